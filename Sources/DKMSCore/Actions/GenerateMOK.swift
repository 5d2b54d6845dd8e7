import ModuleTools
import SafeFS

extension Engine {
    /// `dkms generate_mok`: dkms 3.4's prepare_mok on its own: name the key
    /// and certificate framework.conf points at (or the tree's mok.key and
    /// mok.pub) and make a self-signed pair when either is missing. Exit 1
    /// when there is no pair afterwards.
    public func generateMOK() throws {
        let settings = ModuleSigning(context: context).settings(for: context.targets()[0])
        let key = settings.key, cert = settings.certificate
        out.line("Signing key: \(key)")
        out.line("Public certificate (MOK): \(cert)")
        if !key.hasPrefix("pkcs11:") && (!FS.isRegularFile(key) || !FS.isRegularFile(cert)) {
            out.line("Certificate or key are missing, generating self signed certificate for MOK...")
            if FS.isDirectory(FS.parent(key)) && FS.isDirectory(FS.parent(cert)) {
                _ = try? Signer(settings: settings).generateKey()
            }
            guard FS.isRegularFile(key) else {
                out.line("Key file \(key) not found and can't be generated, modules won't be signed")
                throw DKMSError(.failure, lines: [])
            }
        }
        guard FS.isRegularFile(cert) else {
            out.line("Certificate file \(cert) not found and can't be generated, modules won't be signed")
            throw DKMSError(.failure, lines: [])
        }
    }
}
