import Foundation
import Glibc
import SafeFS

/// framework.conf's post_transaction, after a verb that changed the tree.
struct PostTransaction {
    let context: Context
    var tree: DKMSTree { context.tree }
    var out: Output { context.output }

    /// dkms 3.4's post_transaction (framework.conf): an administrator's
    /// command run on the host once a state-changing action succeeded, its
    /// output in <dkms_tree>/post_transaction.log (blanked first), in
    /// make.log's format. It is the admin's own command, not module code:
    /// it runs unsandboxed, as dkms runs it.
    func run() {
        guard let configured = context.settings.postTransaction else { return }
        let kernel = context.targets().first?.version ?? context.runningKernel
        let command = configured.replacingAll("$kernelver", with: kernel)
        let logPath = tree.root + "/post_transaction.log"
        let fd = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { out.warn("Cannot write \(logPath): \(FS.errnoText())"); return }
        defer { close(fd) }
        let what = "Executing post-transaction command"
        out.text(context.invocation.verbose ? command + "\n" : what + "...")
        let logger = BuildLog(fd: fd)
        logger.begin(what, command: command)
        let started = Date()
        let env = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" } + ["kernelver=\(kernel)"]
        let r = HostBuildEnvironment().run(command, cwd: "/", environment: env, log: fd)
        logger.end(r, elapsed: Date().timeIntervalSince(started))
        if r.succeeded {
            out.line(context.invocation.verbose ? "" : " done.")
        } else {
            out.text("(bad exit status: \(r.exitStatus))")
            if !context.invocation.verbose { out.line(""); out.line("Failed command:"); out.line(command) }
        }
    }
}
