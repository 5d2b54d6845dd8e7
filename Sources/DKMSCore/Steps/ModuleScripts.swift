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

/// Runs a module's scripts the way dkms does, in the build environment.
struct ModuleScripts {
    let context: Context
    let environment: BuildEnvironment
    var tree: DKMSTree { context.tree }
    var out: Output { context.output }

    /// Returns false when the script ran and failed.
    @discardableResult
    func run(_ kind: ScriptKind, _ script: String, _ mv: ModuleVersion, _ target: KernelTarget,
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
        let env = BuildVariables(context: context).variables(mv, target)
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
                                lines: ["The \(kind.rawValue) script failed\(r.reasonSuffix).",
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
}
