import Glibc
import SafeFS
import Foundation

/// PRE_BUILD, POST_BUILD, POST_ADD, PRE_INSTALL, POST_INSTALL and
/// POST_REMOVE: module-supplied programs, run through the build
/// environment (so, confined) from the directory dkms runs them in.
public enum ScriptKind: String {
    case preBuild = "pre_build", postBuild = "post_build", postAdd = "post_add"
    case preInstall = "pre_install", postInstall = "post_install", postRemove = "post_remove"

    var runsInBuildDir: Bool { self == .preBuild || self == .postBuild }
}

extension Engine {
    /// Returns false when the script ran and failed.
    @discardableResult
    func runScript(_ kind: ScriptKind, _ script: String, _ mv: ModuleVersion, _ target: KernelTarget,
                   log: Int32? = nil) throws -> Bool {
        guard !script.isEmpty else { return true }
        var dir = kind.runsInBuildDir ? tree.buildDir(mv) : tree.sourceLink(mv)
        let program = String(script.split(separator: " ", maxSplits: 1)[0])
        if let p = NameRules.problem(inLocation: program) {
            throw DKMSError(.badConf, "The \(kind.rawValue) script '\(Printable.visible(program))' \(p).")
        }
        // dkms 3.4: an executable of the same name in /etc/dkms/<module>/
        // (the administrator's) replaces the module's script.
        let overrideDir = "\(context.configDir)/\(mv.name)"
        let overridden = NameRules.problem(inComponent: mv.name) == nil && access("\(overrideDir)/\(program)", X_OK) == 0
        if overridden { dir = overrideDir }
        // The module's own program is looked up beneath the build's layers
        // or its source, through no link (the administrator's override as it is).
        let executable: Bool
        if overridden {
            executable = true
        } else {
            let st = kind.runsInBuildDir ? environment.outputStat("\(dir)/\(program)") : Beneath.lstat(under: dir, program)
            // A link is left to the sandbox to follow (the root process never does).
            executable = st.map { ($0.st_mode & S_IFMT) == S_IFLNK || (($0.st_mode & S_IFMT) == S_IFREG && $0.st_mode & 0o111 != 0) } ?? false
        }
        guard executable else {
            out.line("")
            out.warn("The \(kind.rawValue) script is not executable.")
            return true
        }
        let env = buildEnvironmentVariables(mv, target)
        if kind.runsInBuildDir {
            out.text("Running the \(kind.rawValue) script...")
            let command = "cd \(shellWord(dir))/ && \(dir)/\(script)"
            // In make.log as dkms's invoke_command writes it: a block with the command, exit code and time.
            let logger = log.map { BuildLog(fd: $0) }
            logger?.begin("Running the \(kind.rawValue) script", command: command)
            let started = Date()
            let r = environment.run(command, cwd: dir, environment: env, log: log)
            logger?.end(r, elapsed: Date().timeIntervalSince(started))
            out.line(r.succeeded ? " done." : "(bad exit status: \(r.exitStatus))")
            if !r.succeeded {
                // The script's own status is dkms's exit code (1 when it was killed).
                throw DKMSError(r.exitStatus == 0 ? .failure : DKMSError.Code(rawValue: r.exitStatus),
                                lines: ["The \(kind.rawValue) script failed\(reasonSuffix(r)).",
                                        "Consult \(tree.buildDir(mv))/make.log for more information."])
            }
            return true
        }
        out.line("Running the \(kind.rawValue) script:")
        let r = environment.run("\(dir)/\(script)", cwd: dir, environment: env, log: nil)
        if !r.output.isEmpty { out.text(Printable.visible(r.output, keepNewlines: true)) }
        if case .killed(let why, _) = r { out.errorLine("\(kind.rawValue): \(why)") }
        return r.succeeded
    }

    func reasonSuffix(_ r: StepOutcome) -> String {
        if case .killed(let why, _) = r { return ": \(why)" }
        return ""
    }

    /// The environment every module command sees: fixed, with the variables
    /// dkms defines and the settings that make builds reproducible.
    ///
    /// `withoutDebugInfo`: every module of the build is stripped of its debug
    /// info afterwards (STRIP, yes by default, as dkms does with `strip -g`),
    /// so the compiler is not asked to produce it: `-g0` comes after the
    /// kernel's `-g` in KCFLAGS. Stripped, the module has the same sections
    /// and code (only its build id and the order of `__versions` differ);
    /// a Debian kernel's debug info is a tenth of the compile time. Not on a
    /// kernel with BTF for modules (CONFIG_DEBUG_INFO_BTF_MODULES: Arch,
    /// Fedora, Ubuntu, Debian's 6.12): kbuild's pahole turns each module's
    /// DWARF into its .BTF section, and fails when there is none.
    func buildEnvironmentVariables(_ mv: ModuleVersion, _ target: KernelTarget, withoutDebugInfo: Bool = false) -> [String] {
        let withoutDebugInfo = withoutDebugInfo && !kernelNeedsModuleDebugInfo(target)
        var env = ["PATH=/usr/bin:/bin:/usr/sbin:/sbin", "LC_ALL=C", "LANG=C", "TZ=UTC", "HOME=/nonexistent", "TMPDIR=/tmp",
                   "SOURCE_DATE_EPOCH=0", "KBUILD_BUILD_TIMESTAMP=Thu Jan  1 00:00:00 UTC 1970",
                   "KBUILD_BUILD_USER=dkms", "KBUILD_BUILD_HOST=dkms",
                   "kernelver=\(target.version)", "arch=\(target.arch)", "kernel_source_dir=\(target.sourceDir)",
                   "dkms_tree=\(tree.root)", "source_tree=\(tree.sourceTree)", "install_tree=\(tree.installTree)",
                   "module=\(mv.name)", "module_version=\(mv.version)"]
        // Debug info and build ids must not depend on where the tree lives.
        let map = "-ffile-prefix-map=\(tree.buildDir(mv))/="
        let g0 = withoutDebugInfo ? " -g0" : ""
        env += ["KCFLAGS=\(map)\(g0)", "KAFLAGS=\(map)\(g0)"]
        if let cc = compilerFromKernelConfig(target) { env += ["CC=\(cc)", "KERNEL_CC=\(cc)"] }
        return env
    }

    func kernelNeedsModuleDebugInfo(_ target: KernelTarget) -> Bool {
        target.kernelConfig(cache: context.run.kernelConfigs)["CONFIG_DEBUG_INFO_BTF_MODULES"] == "y"
    }

    /// dkms 3.2 exports the compiler named in CONFIG_CC_VERSION_TEXT when it exists.
    func compilerFromKernelConfig(_ target: KernelTarget) -> String? {
        guard var text = target.kernelConfig(cache: context.run.kernelConfigs)["CONFIG_CC_VERSION_TEXT"] else { return nil }
        text = text.trimmingCharacters(in: "\"")
        guard let first = text.split(separator: " ").first.map(String.init), !first.isEmpty,
              NameRules.problem(inComponent: first) == nil else { return nil }
        for dir in ["/usr/bin", "/bin", "/usr/local/bin"] where access("\(dir)/\(first)", X_OK) == 0 { return first }
        return nil
    }
}

func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

/// `s` as one shell word: as it is when it holds only characters the shell
/// takes literally (so a logged command reads as dkms's), quoted otherwise.
func shellWord(_ s: String) -> String {
    let plain = !s.isEmpty && s.unicodeScalars.allSatisfy { c in
        (c.value < 128 && (CharacterSet.alphanumerics.contains(c))) || "._-/+,@%=:".unicodeScalars.contains(c)
    }
    return plain ? s : shellQuote(s)
}
