import ModuleTools
import BuildCache
import SafeFS
import Glibc

/// Signing a build's modules with the MOK key, as dkms 3.4 decides and
/// says it: the decision once per kernel/arch in a run (its messages before
/// "Building module(s)"), the key and sign-file only from places no module
/// data reaches, and sign-file's output cached beside the build's.
/// Runs outside any sandbox: the private key never meets module code.
struct ModuleSigning {
    let context: Context
    var tree: DKMSTree { context.tree }
    var out: Output { context.output }

    /// Whether modules built for `target` get signed, decided once per
    /// kernel/arch in a run and said the way dkms 3.4 says it: before
    /// "Building module(s)", followed by an empty line (its
    /// prepare_kernel_and_signing). Later builds for the same kernel in the
    /// run reuse the decision silently, as dkms does.
    func decision(for target: KernelTarget) -> SigningDecision {
        let id = target.version + "/" + target.arch
        if let known = context.run.signing[id] { return known }
        let decision = decide(target)
        context.run.signing[id] = decision
        out.line("")
        return decision
    }

    /// dkms 3.4's prepare_signing and prepare_mok, message for message.
    private func decide(_ target: KernelTarget) -> SigningDecision {
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
        let settings = settings(for: target)
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
        if let why = untrustedFile(tool, key: false) { return refuse("Sign command", tool, why) }
        let key = settings.key, cert = settings.certificate
        out.line("Signing key: \(key)")
        out.line("Public certificate (MOK): \(cert)")
        for (what, path) in [("Signing key", key), ("Public certificate", cert)] where !path.hasPrefix("pkcs11:") {
            if let why = untrustedFile(path, key: true, mustExist: false) { return refuse(what, path, why) }
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
            if let why = untrustedFile(path, key: true) { return refuse(what, path, why) }
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
    func untrustedFile(_ path: String, key: Bool, mustExist: Bool = true) -> String? {
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
    static func inPath(_ name: String) -> String? {
        Spawn.lookUp(name, in: (getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin").split(separator: ":").map(String.init))
    }
    /// mok_signing_key, mok_certificate and sign_file from framework.conf.
    /// The key defaults to <dkms_tree>/mok.key (dkms's /var/lib/dkms/mok.key
    /// for the default tree), so a scratch tree never touches the host's key.
    func settings(for target: KernelTarget) -> SigningSettings {
        let s = context.settings
        let key = (s.mokSigningKey ?? tree.root + "/mok.key").replacingAll("$kernelver", with: target.version)
        let cert = (s.mokCertificate ?? tree.root + "/mok.pub").replacingAll("$kernelver", with: target.version)
        let tool = (s.signFile ?? distributionSignFile(target.version)).replacingAll("$kernelver", with: target.version)
        return SigningSettings(key: key, certificate: cert, signFile: tool)
    }

    /// dkms signs in the build directory and names the module there; ours
    /// signs the checked copy in staging, but the name shown is dkms's.
    func shownName(_ mv: ModuleVersion, _ spec: ModuleSpec) -> String {
        "\(tree.buildDir(mv))/\(spec.builtLocation)\(spec.builtName).ko"
    }

    /// Signs with sign-file, or takes the signed bytes from the cache: a
    /// separate step keyed by the unsigned module, the certificate and the
    /// hash, so the build key never depends on the key and the private key
    /// never enters the store (only its public output does).
    /// Returns sign-file's output when it fails (nil when the module is signed).
    func sign(_ file: String, decision: SigningDecision, target: KernelTarget, labels: ResultLabels) -> String? {
        guard case .sign(let tool, _, let cert, let hash) = decision else { return nil }
        func run() -> String? {
            do { try Signer.sign(file, decision: decision) } catch ToolError.commandFailed(_, _, var text) {
                while text.hasSuffix("\n") { text.removeLast() }
                return text
            } catch { return "cannot run \(tool)" }
            return nil
        }
        guard context.usesCache, let store = try? BuildCacheSession.store(context), let unsigned = FS.readFile(file) else {
            return run()
        }
        var h = SHA256()
        for part in [Array("dkms-swift signature 1".utf8), SHA256.hash(bytes: unsigned).bytes,
                     SHA256.hash(bytes: FS.readFile(cert) ?? []).bytes, Array(hash.utf8),
                     SHA256.hash(bytes: FS.readFile(tool) ?? []).bytes] {
            h.update([UInt8(part.count & 0xff), UInt8(part.count >> 8 & 0xff)] + part)
        }
        let key = h.finalize()
        if let files = try? store.lookup(key), let f = files.first {
            let tmp = file + ".signed"
            try? store.copy(f, to: tmp, syncDirectory: false)
            if let signed = FS.readFile(tmp), ModuleSignature.stripped(signed) == unsigned, rename(tmp, file) == 0 { return nil }
            unlink(tmp)
        }
        if let failure = run() { return failure }
        _ = try? store.store(key, files: [(relativePath: CacheCleanup.signedFile, sourcePath: file)], labels: labels)
        return nil
    }

    /// "Signing module ..." for each module, where dkms says it: right after
    /// the build, before POST_BUILD (ours signs later, in BuildPublication.publish).
    func announce(_ mv: ModuleVersion, _ target: KernelTarget, _ conf: ModuleConfig) {
        guard case .sign = decision(for: target) else { return }
        for spec in conf.modules { out.line("Signing module \(shownName(mv, spec))") }
    }
}
