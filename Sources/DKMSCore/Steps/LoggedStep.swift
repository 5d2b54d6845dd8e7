import Foundation

/// One step of a build that runs a command in the build environment with its
/// output in make.log, said as dkms 3.2 says it ("<what>... done.").
struct LoggedStep {
    let context: Context
    let environment: BuildEnvironment
    var out: Output { context.output }

    /// `failure` makes the error a failed step throws, from how it ended.
    func run(_ what: String, _ command: String, cwd: String, env: [String], logger: BuildLog,
             failure: (StepOutcome) -> DKMSError) throws {
        out.text(context.invocation.verbose ? Printable.visible(command) + "\n" : "\(what)...")
        let started = Date()
        logger.begin(what, command: command)
        let r = environment.run(command, cwd: cwd, environment: env, log: logger.fd)
        logger.end(r, elapsed: Date().timeIntervalSince(started))
        if r.succeeded {
            out.line(context.invocation.verbose ? "" : " done.")
            return
        }
        out.line("(bad exit status: \(r.exitStatus))")
        if !context.invocation.verbose { out.line("Failed command:"); out.line(Printable.visible(command)) }
        if case .killed(let why, _) = r { out.errorLine("sandbox: \(why)") }
        // dkms says only where make.log is; --verbose shows its last lines too.
        if context.invocation.verbose { logger.showTail(out: out) }
        throw failure(r)
    }
}
