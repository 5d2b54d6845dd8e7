import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SafeFS

/// dkms 3.x module signing: a MOK key + DER certificate (generated on first use),
/// the kernel's `sign-file`, the kernel's CONFIG_MODULE_SIG_HASH. Signing must
/// happen on the uncompressed ELF, before compression (the signature is appended
/// to the .ko; the kernel checks it after decompressing).
public struct SigningSettings: Equatable, Sendable {
    public var key: String
    public var certificate: String
    /// nil = the kernel's `/lib/modules/<k>/build/scripts/sign-file`.
    public var signFile: String?

    public static let defaultKey = "/var/lib/dkms/mok.key"
    public static let defaultCertificate = "/var/lib/dkms/mok.pub"

    public init(key: String = SigningSettings.defaultKey, certificate: String = SigningSettings.defaultCertificate,
                signFile: String? = nil) {
        self.key = key
        self.certificate = certificate
        self.signFile = signFile
    }

    public static func defaultSignFile(kernel: String, installTree: String = "/lib/modules") -> String {
        FS.join(FS.join(installTree, kernel), "build/scripts/sign-file")
    }
}

/// What dkms decided for one kernel (DKMSCore's ModuleSigning: dkms 3.4's
/// prepare_signing, with sign-file and keys only from trusted places).
public enum SigningDecision: Equatable, Sendable {
    case sign(tool: String, key: String, certificate: String, hash: String)
    /// Not signing; `reason` is a user-facing line (a warning when signing was wanted).
    case skip(reason: String, isWarning: Bool)
}

public struct Signer: Sendable {
    public var settings: SigningSettings
    public var runner: ProcessRunner
    public var openssl = "openssl"

    public init(settings: SigningSettings, runner: ProcessRunner = ProcessRunner()) {
        self.settings = settings
        self.runner = runner
    }

    /// dkms's exact openssl invocation, but written to temp names and renamed into
    /// place: a crash must not leave a key without its certificate (dkms would then
    /// regenerate the key and invalidate an already enrolled MOK).
    public func generateKey() throws {
        let keyDir = FS.parent(settings.key), certDir = FS.parent(settings.certificate)
        try ToolFiles.makeDirectories(keyDir)
        try ToolFiles.makeDirectories(certDir)
        let suffix = ".dkms-tmp-\(getpid())"
        let tmpKey = settings.key + suffix, tmpCert = settings.certificate + suffix
        defer { unlink(tmpKey); unlink(tmpCert) }
        let old = umask(0o077) // the private key must never be readable by others, not even briefly
        defer { umask(old) }
        try runner.check(openssl, ["req", "-new", "-x509", "-nodes", "-days", "36500",
                                   "-subj", "/CN=DKMS module signing key", "-newkey", "rsa:2048",
                                   "-keyout", tmpKey, "-outform", "DER", "-out", tmpCert])
        for p in [tmpKey, tmpCert] { try ToolFiles.sync(p) }
        try ToolFiles.rename(tmpCert, settings.certificate)
        try ToolFiles.rename(tmpKey, settings.key)
        try ToolFiles.sync(keyDir, directory: true)
        if certDir != keyDir { try ToolFiles.sync(certDir, directory: true) }
    }

    /// Signs an uncompressed `.ko` in place. A failure carries all sign-file
    /// said (stdout, then stderr), which dkms shows as it is.
    public static func sign(_ file: String, decision: SigningDecision, runner: ProcessRunner = ProcessRunner()) throws {
        guard case let .sign(tool, key, cert, hash) = decision else { return }
        guard ModuleCompression.of(fileName: file) == .none else {
            throw ToolError.invalidArgument("\(file): refusing to sign a compressed module; sign before compressing")
        }
        let r = try runner.run(tool, [hash, key, cert, file])
        guard r.status == 0 else {
            throw ToolError.commandFailed(command: [tool, hash, key, cert, file].joined(separator: " "), status: r.status, stderr: r.stdout + r.stderr)
        }
    }
}
