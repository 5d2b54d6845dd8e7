import BuildCache
import Installer
import SafeFS
/// Carries out dkms actions on one tree. The two seams the sandbox plugs
/// into are `evaluator` (where dkms.conf is sourced) and `environment`
/// (where the module's own commands run).
public struct Engine {
    public var context: Context
    public var evaluator: ConfEvaluator
    public var environment: BuildEnvironment
    /// What recovery did at the start of this run, if anything.
    public var recovery: Recovery.Report?

    public init(context: Context, evaluator: ConfEvaluator, environment: BuildEnvironment) {
        self.context = context
        self.evaluator = evaluator
        self.environment = environment
    }

    var tree: DKMSTree { context.tree }
    /// dkms.conf as this run reads it: evaluated in `evaluator`, memoized in the run's state.
    var confs: ConfReader { ConfReader(context: context, evaluator: evaluator) }
    /// The steps the verbs run, each a value holding what it needs of this run.
    var signing: ModuleSigning { ModuleSigning(context: context) }
    var publication: BuildPublication { BuildPublication(context: context, confs: confs) }
    var scripts: ModuleScripts { ModuleScripts(context: context, environment: environment) }
    var variables: BuildVariables { BuildVariables(context: context) }
    var loggedStep: LoggedStep { LoggedStep(context: context, environment: environment) }
    var depmodStep: DepmodStep { DepmodStep(context: context) }
    var transactions: TransactionRunner { TransactionRunner(context: context) }
    var cached: CachedBuilds { CachedBuilds(context: context, environment: environment, confs: confs) }

    /// Says what an interrupted earlier run left and what was done about it.
    public func reportRecovery() { out.say(recoveryMessages()) }

    func recoveryMessages() -> [Message] {
        guard let r = recovery, !r.isEmpty else { return [.line("Nothing to recover: no interrupted transaction in \(tree.root).")] }
        return r.rolledBack.map { .line("Recovered: rolled back interrupted transaction \($0)") }
            + r.rolledForward.map { .line("Recovered: completed interrupted transaction \($0)") }
            + r.discarded.map { .line("Recovered: discarded leftover \($0)") }
    }
    var out: Output { context.output }

    func requireModuleArgs(_ action: String) throws -> ModuleVersion {
        var version = context.invocation.moduleVersion
        // `NAME` alone names its version when only one exists: in the tree,
        // or for `add`, in the source tree.
        if let m = context.invocation.module, !m.isEmpty, version == nil, NameRules.problem(inComponent: m) == nil {
            var candidates = tree.versions(m)
            if candidates.isEmpty && action == "add" {
                candidates = FS.list(tree.sourceTree).filter { $0.hasPrefix(m + "-") && FS.isRegularFile("\(tree.sourceTree)/\($0)/dkms.conf") }
                    .map { String($0.dropFirst(m.count + 1)) }
            }
            if candidates.count == 1 { version = candidates[0] }
        }
        guard let m = context.invocation.module, !m.isEmpty, let v = version, !v.isEmpty else {
            throw DKMSError(.failure, "Arguments <module> and <module-version> are not specified.",
                            "Usage: \(action) <module>/<module-version> or",
                            "       \(action) -m <module>/<module-version> or",
                            "       \(action) -m <module> -v <module-version>")
        }
        for (what, s) in [("module name", m), ("module version", v)] {
            if let p = NameRules.problem(inName: s) { throw DKMSError(.failure, "Invalid \(what) '\(Printable.visible(s))': \(p).") }
        }
        return ModuleVersion(m, v)
    }

    /// The module build and install act on: `--all` refused, a source
    /// directory given instead copied to the source tree and named, a broken
    /// entry refused (one not yet added is added by the build).
    mutating func moduleToBuild(_ action: String) throws -> ModuleVersion {
        if context.invocation.all { throw DKMSError(.allUnsupported, "The action \(action) does not support the --all parameter.") }
        if let path = context.invocation.sourcePath, context.invocation.module == nil { try addSourceTree(path) }
        let mv = try requireModuleArgs(action)
        if tree.isBroken(mv) { try requireAdded(mv) }
        return mv
    }

    func requireAdded(_ mv: ModuleVersion) throws {
        if tree.isBroken(mv) {
            throw DKMSError(.broken, "\(mv) is broken!", "Missing the source directory or the symbolic link pointing to it.",
                            "Manual intervention is required!")
        }
        guard tree.isAdded(mv) else {
            throw DKMSError(.notInTree, "The module/version combo: \(mv) is not located in the DKMS tree.")
        }
    }

}
