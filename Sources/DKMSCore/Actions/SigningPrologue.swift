import ModuleTools
import SafeFS
import Glibc

extension Engine {
    /// Whether modules built for `target` get signed, decided once per
    /// kernel/arch in a run and said the way dkms 3.4 says it: before
    /// "Building module(s)", followed by an empty line (its
    /// prepare_kernel_and_signing). Later builds for the same kernel in the
    /// run reuse the decision silently, as dkms does.
    func prepareSigning(_ target: KernelTarget) -> SigningDecision {
        let id = target.version + "/" + target.arch
        if let known = context.run.signing[id] { return known }
        let decision = decideSigning(target)
        context.run.signing[id] = decision
        out.line("")
        return decision
    }

    /// dkms 3.4's prepare_signing and prepare_mok, message for message.
    private func decideSigning(_ target: KernelTarget) -> SigningDecision {
        func skip(_ why: String) -> SigningDecision {
            out.line(why)
            return .skip(reason: why, isWarning: false)
        }
        if !context.settings.signModules {
            return skip("Module signing is disabled by policy, modules won't be signed")
        }
        // Chroot detection is left out on purpose: every build of ours runs
        // in private namespaces, where dkms's mountinfo test would always say
        // "chroot" and never sign.
        let configPath = context.invocation.kernelConfig ?? target.configPath
        guard FS.isRegularFile(configPath) else {
            return skip("Kernel config \(configPath) not found, modules won't be signed")
        }
        guard let hash = Self.signatureHash(configPath) else {
            return skip("The kernel is built without module signing facility, modules won't be signed")
        }
        let settings = signingSettings(target)
        let tool = settings.signFile ?? SigningSettings.defaultSignFile(kernel: target.version, installTree: tree.installTree)
        out.line("Sign command: \(tool)")
        guard FS.isRegularFile(tool), access(tool, X_OK) == 0 else {
            return skip("Binary \(tool) not found, modules won't be signed")
        }
        func refuse(_ what: String, _ path: String, _ why: String) -> SigningDecision {
            let line = "\(what) \(path) is not trusted (\(why)), modules won't be signed"
            out.warn(line)
            return .skip(reason: line, isWarning: true)
        }
        // sign-file runs as root and the key is root's: both only from places
        // no module data reaches (TrustedPath).
        if let why = untrustedSigningFile(tool, key: false) { return refuse("Sign command", tool, why) }
        let key = settings.key, cert = settings.certificate
        out.line("Signing key: \(key)")
        out.line("Public certificate (MOK): \(cert)")
        for (what, path) in [("Signing key", key), ("Public certificate", cert)] where !path.hasPrefix("pkcs11:") {
            if let why = untrustedSigningFile(path, key: true, mustExist: false) { return refuse(what, path, why) }
        }
        if !key.hasPrefix("pkcs11:") && (!FS.isRegularFile(key) || !FS.isRegularFile(cert)) {
            out.line("Certificate or key are missing, generating self signed certificate for MOK...")
            // Like dkms's openssl call, nothing is made where a directory is
            // missing (a warning, in upstream's words on stdout, which its
            // test suite checks; never created); unlike it, key and
            // certificate appear together or not at all.
            guard FS.isDirectory(FS.parent(key)) else {
                out.line("Key file \(key) not found and can't be generated, modules won't be signed")
                return .skip(reason: "Key file \(key) not found and can't be generated, modules won't be signed", isWarning: true)
            }
            guard FS.isDirectory(FS.parent(cert)) else {
                out.line("Certificate file \(cert) not found and can't be generated, modules won't be signed")
                return .skip(reason: "Certificate file \(cert) not found and can't be generated, modules won't be signed", isWarning: true)
            }
            _ = try? Signer(settings: settings).generateKey()
            guard FS.isRegularFile(key) else {
                return skip("Key file \(key) not found and can't be generated, modules won't be signed")
            }
        }
        guard FS.isRegularFile(cert) else {
            return skip("Certificate file \(cert) not found and can't be generated, modules won't be signed")
        }
        for (what, path) in [("Signing key", key), ("Public certificate", cert)] where !path.hasPrefix("pkcs11:") {
            if let why = untrustedSigningFile(path, key: true) { return refuse(what, path, why) }
        }
        // The file that was checked, not a link that could be changed after.
        return .sign(tool: FS.realPath(tool) ?? tool, key: key, certificate: cert, hash: hash)
    }

    /// Why sign-file, the key or the certificate at `path` is not to be
    /// used by root: not root's alone (TrustedPath), or inside a module
    /// source (any directory below the source tree holding a dkms.conf, any
    /// registered module's source) or the dkms tree's module entries (the
    /// tool: anywhere in the dkms tree; the key may sit at its top, dkms's
    /// /var/lib/dkms/mok.key).
    func untrustedSigningFile(_ path: String, key: Bool, mustExist: Bool = true) -> String? {
        let dir = FS.parent(path)
        if let src = TrustedPath.moduleSource(containing: FS.exists(path) ? path : dir + "/.", below: tree.sourceTree) {
            return "it lies in the module source \(src)"
        }
        var forbidden: [String] = key ? tree.modules().map { tree.moduleDir($0) } : [tree.root]
        for m in tree.modules() {
            for mv in tree.added(m) { if let real = FS.realPath(tree.sourceLink(mv)) { forbidden.append(real) } }
        }
        return TrustedPath.problem(path, forbidden: forbidden, mustExist: mustExist)
    }

    /// `dkms generate_mok`: dkms 3.4's prepare_mok on its own: name the key
    /// and certificate framework.conf points at (or the tree's mok.key and
    /// mok.pub) and make a self-signed pair when either is missing. Exit 1
    /// when there is no pair afterwards.
    public func generateMOK() throws {
        let settings = signingSettings(context.targets()[0])
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

    /// CONFIG_MODULE_SIG_HASH of a kernel config (dkms greps for the line:
    /// a config naming a hash is one that signs).
    static func signatureHash(_ configPath: String) -> String? {
        guard let text = FS.readText(configPath) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("CONFIG_MODULE_SIG_HASH=") {
            return String(line.dropFirst("CONFIG_MODULE_SIG_HASH=".count).filter { $0 != "\"" })
        }
        return nil
    }

    /// The sign-file dkms 3.4 picks when framework.conf names none: the
    /// distribution's kbuild copy where it has one (Debian keeps it in
    /// linux-kbuild-<major.minor>), else the kernel's build tree.
    func distributionSignFile(_ kernel: String) -> String {
        var candidate: String?
        let distro = Context.runningDistribution()
        if distro.hasPrefix("debian"), let dot = kernel.lastIndex(of: ".") {
            candidate = "/usr/lib/linux-kbuild-\(kernel[..<dot])/scripts/sign-file"
        } else if distro.hasPrefix("ubuntu") {
            candidate = Self.inPath("kmodsign") ?? "/usr/src/linux-headers-\(kernel)/scripts/sign-file"
        } else if distro.hasPrefix("gentoo") {
            candidate = "/usr/src/linux-\(kernel)/scripts/sign-file"
        }
        if let c = candidate, FS.isRegularFile(c) { return c }
        return "\(tree.installTree)/\(kernel)/build/scripts/sign-file"
    }
}

extension Engine {
    static func inPath(_ name: String) -> String? {
        Spawn.lookUp(name, in: (getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin").split(separator: ":").map(String.init))
    }
}

extension Context {
    /// dkms's distro_version: ID for Ubuntu, else the first word of ID_LIKE, else ID.
    static func runningDistribution() -> String {
        guard let text = FS.readText("/etc/os-release") ?? FS.readText("/usr/lib/os-release") else { return "" }
        var id = "", like = ""
        for line in text.split(separator: "\n") {
            if line.hasPrefix("ID=") { id = String(line.dropFirst(3)).trimmingCharacters(in: "\"'") }
            if line.hasPrefix("ID_LIKE=") { like = String(line.dropFirst(8)).trimmingCharacters(in: "\"'") }
        }
        if id == "ubuntu" { return id }
        return like.split(separator: " ").first.map(String.init) ?? id
    }
}
