import Glibc
import Installer
import SafeFS

/// The `dkms` program: parse, pick the environment, run the action, turn
/// errors into dkms's messages and exit codes.
public enum CLI {
    /// `sink`: where its messages go (a test passes buffers and runs dkms in-process).
    public static func run(_ args: [String], environment: [String: String], sink: Output.Sink = .standard) -> Int32 {
        var inv: Invocation
        do {
            inv = try Invocation.parse(args)
        } catch let e as DKMSError {
            let output = Output(sink: sink)
            output.errorLine("")
            output.error(e)
            if e.code == .badArgument { output.line(Invocation.usage) }
            return e.exitCode
        } catch { return DKMSError.Code.failure.rawValue }

        let output = Output(quiet: inv.quiet, verbose: inv.verbose, sink: sink)
        if inv.showVersion { output.line(DKMSVersion.string); return DKMSError.Code.success.rawValue }
        if inv.showHelp { output.line(Invocation.usage); return DKMSError.Code.success.rawValue }
        // dkms decides the distribution (hence where modules go) before any action, and stops without it.
        if inv.action != nil && !Context.hasOSRelease() {
            output.errorLine("")
            let e = DKMSError(.missingOSRelease, "System is missing os-release file.")
            output.error(e)
            return e.exitCode
        }
        for d in inv.deprecations { output.deprecated(d) }
        for w in inv.warnings { output.warn(w) }

        let context = Context(invocation: inv, settings: Settings.load(invocation: inv, environment: environment), output: output)
        context.run.faults = FaultInjector.fromEnvironment(environment)
        var engine = Engine(context: context, evaluator: ConfEvaluator(), environment: HostBuildEnvironment())
        let runsModuleCode: Set<Invocation.Action> = [.add, .build, .install, .uninstall, .unbuild, .remove, .autoinstall, .verify, .match, .mktarball, .ldtarball,
                                                            .kernel_preinst, .kernel_postinst, .kernel_prerm]
        if let action = inv.action, runsModuleCode.contains(action) {
            do {
                (engine.environment, engine.evaluator) = try EnvironmentChoice.make(context)
            } catch let e as DKMSError {
                output.errorLine("")
                output.error(e)
                return e.exitCode
            } catch { return DKMSError.Code.failure.rawValue }
        }
        do {
            guard let action = inv.action else {
                output.errorLine("")
                output.error(DKMSError(.success, "Unknown action specified: \"\""))
                output.line(Invocation.usage)
                return DKMSError.Code.success.rawValue
            }
            let readOnly: Set<Invocation.Action> = [.status]
            if !readOnly.contains(action) {
                try checkWritable(action, context)
                try lockTree(action, args, &engine, environment: environment)
            }
            defer {
                engine.context.run.lock?.release()
                if engine.context.run.faults.recordLabels {
                    let f = engine.context.run.faults
                    output.errorLine("dkms: \(f.count) fault point(s)")
                    for (i, l) in f.labels.enumerated() { output.errorLine("  \(i + 1): \(l)") }
                }
            }
            switch action {
            case .status: engine.status()
            case .add: try engine.add()
            case .build: try engine.build()
            case .install: try engine.install()
            case .uninstall: try engine.uninstall()
            case .unbuild: try engine.unbuild()
            case .remove: try engine.remove()
            case .autoinstall: try engine.autoinstall()
            case .kernel_postinst: try engine.context.invocation.requireOneKernel("kernel_postinst"); try engine.autoinstall(as: "kernel_postinst")
            case .kernel_prerm: try engine.kernelRemoval(onlyAutoinstall: false)
            case .kernel_preinst: try engine.kernelRemoval(onlyAutoinstall: true)
            case .cleanup: try engine.cleanup()
            case .cache: try engine.cache()
            case .verify: try engine.verify()
            case .recover: engine.reportRecovery()
            case .match: try engine.match()
            case .generate_mok: try engine.generateMOK()
            case .mktarball: try engine.makeTarball()
            case .ldtarball: try engine.loadTarball()
            }
            // dkms runs it after install, uninstall, unbuild and remove, and after an autoinstall that installed something.
            if [.install, .uninstall, .unbuild, .remove].contains(action) { PostTransaction(context: engine.context).run() }
            if action == .autoinstall && !engine.context.run.autoinstalled.isEmpty { PostTransaction(context: engine.context).run() }
            return DKMSError.Code.success.rawValue
        } catch let e as DKMSError {
            if !e.lines.isEmpty {
                output.errorLine("")
                output.error(e)
            }
            return e.exitCode
        } catch {
            output.errorLine("")
            let e = DKMSError(.failure, "\(error)")
            output.error(e)
            return e.exitCode
        }
    }

    /// Every state-changing command holds the tree lock, then finishes or
    /// undoes whatever an interrupted run left half done. A child of a
    /// parallel autoinstall adopts its parent's lock instead (and leaves
    /// recovery to it: the siblings' transactions are live, not interrupted).
    static func lockTree(_ action: Invocation.Action, _ args: [String], _ engine: inout Engine,
                         environment: [String: String]) throws {
        let root = engine.context.tree.root
        let command = "dkms " + args.prefix(4).joined(separator: " ")
        if let text = environment["DKMS_TREE_LOCK_FD"], let fd = Int32(text),
           let lock = TreeLock.adopt(fd: fd, dkmsTree: root, command: command) {
            engine.context.run.lock = lock
            return
        }
        do {
            let lock = try TreeLock.acquire(dkmsTree: root, command: command) { engine.context.output.errorLine($0) }
            engine.context.run.lock = lock
            engine.recovery = try Recovery.recover(dkmsTree: root, lock: lock, faults: &engine.context.run.faults)
            if action != .recover, let r = engine.recovery, !r.isEmpty { engine.reportRecovery() }
        } catch let e as InstallerError {
            throw DKMSError(.failure, e.description)
        }
    }

    /// dkms's check_root / check_rw_dkms_tree.
    static func checkWritable(_ action: Invocation.Action, _ context: Context) throws {
        if [.install, .uninstall, .autoinstall, .kernel_preinst, .kernel_postinst, .kernel_prerm].contains(action) && geteuid() != 0 {
            throw DKMSError(.failure, "You must be root to use this command.")
        }
        let root = context.tree.root
        if !FS.isDirectory(root) { try Files.makeDirectories(root) }
        if access(root, W_OK) != 0 { throw DKMSError(.failure, "No write access to DKMS tree at \(root)") }
    }
}
