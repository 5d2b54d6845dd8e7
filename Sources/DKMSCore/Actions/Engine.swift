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

    /// Says what an interrupted earlier run left and what was done about it.
    public func reportRecovery() {
        guard let r = recovery, !r.isEmpty else {
            out.line("Nothing to recover: no interrupted transaction in \(tree.root).")
            return
        }
        for t in r.rolledBack { out.line("Recovered: rolled back interrupted transaction \(t)") }
        for t in r.rolledForward { out.line("Recovered: completed interrupted transaction \(t)") }
        for t in r.discarded { out.line("Recovered: discarded leftover \(t)") }
    }
    var out: Output { context.output }

    // MARK: dkms.conf

    /// dkms's read_conf (`strict: false`: uninstall, unbuild, remove, status
    /// decisions) or read_conf_strict (add, build, install): the directive
    /// errors of either are fatal; a strict read also reports deprecated
    /// directives (when the file is evaluated, not for a memoized result, as
    /// dkms skips a file it has just read), warns about zero modules and
    /// refuses duplicate module names, each time.
    public func readConf(_ mv: ModuleVersion, _ target: KernelTarget, confPath: String? = nil,
                         strict: Bool = true, silently: Bool = false) throws -> ModuleConfig {
        let out = silently ? Output(quiet: true) : self.out
        let (path, overrides) = confFiles(mv, target, confPath: confPath)
        let memoKey = "\(path)\u{0}\(mv.name)\u{0}\(mv.version)\u{0}\(target.version)\u{0}\(target.arch)\u{0}\(target.sourceDir)"
        let conf: ModuleConfig
        if let known = context.run.confs[memoKey] {
            conf = known
        } else {
            let ctx = ConfEvaluator.Context(kernelVersion: target.version, arch: target.arch, kernelSourceDir: target.sourceDir,
                                            dkmsTree: tree.root, sourceTree: tree.sourceTree, installTree: tree.installTree,
                                            module: mv.name, moduleVersion: mv.version)
            let cwd = FS.realPath(String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])) ?? "/"
            let evaluated = try evaluator.evaluate(confPath: path, overrides: overrides, context: ctx, cwd: cwd)
            if !evaluated.diagnostics.isEmpty {
                out.errorLine(Printable.visible(evaluated.diagnostics.trimmingCharacters(in: "\n"), keepNewlines: true))
            }
            if strict {
                for d in ModuleConfigBuilder.deprecations(evaluated.raw, confPath: path) { out.deprecated(d) }
            }
            var builder = ModuleConfigBuilder(target: target, dkmsTree: tree.root, module: mv.name, moduleVersion: mv.version,
                                              destOverride: context.destOverride, confPath: path)
            builder.configCache = context.run.kernelConfigs
            do {
                conf = try builder.build(evaluated.raw)
            } catch let e as DKMSError {
                // dkms prints each directive problem on its own line, then the verdict.
                for l in e.lines.dropFirst(2) { out.errorLine(l) }
                throw DKMSError(e.code, lines: Array(e.lines.prefix(2)))
            }
            context.run.confs[memoKey] = conf
        }
        if strict {
            let (warnings, errors) = ModuleConfigBuilder.strictFindings(conf)
            for w in warnings { out.errorLine(w) }
            if !errors.isEmpty {
                for l in errors { out.errorLine(l) }
                throw DKMSError(.badConf, "Bad conf file.", "File: \(path) does not represent a valid dkms.conf file.")
            }
        }
        return conf
    }

    /// The dkms.conf evaluated for m/v on `target` and the override files
    /// (in /etc/dkms) evaluated after it, in order.
    func confFiles(_ mv: ModuleVersion, _ target: KernelTarget, confPath: String? = nil) -> (path: String, overrides: [String]) {
        let path = confPath ?? context.invocation.conf ?? tree.confPath(mv)
        let dir = context.configDir
        let overrides = mv.name.isEmpty ? [] : ["\(dir)/\(mv.name).conf", "\(dir)/\(mv.name)-\(mv.version).conf", "\(dir)/\(mv.name)-\(mv.version)-\(target.version).conf",
                                          "\(dir)/\(mv.name)-\(mv.version)-\(target.version)-\(target.arch).conf",
                                          "\(dir)/\(mv.name)--\(target.version).conf", "\(dir)/\(mv.name)--\(target.version)-\(target.arch).conf"]
        return (path, overrides)
    }

    /// The identity of evaluating m/v's dkms.conf for `target`: the files
    /// `confFiles` names with their bytes (or absence), the kernel and the
    /// trees. What the file may read beyond that (the kernel's .config, say)
    /// is not in it: a recorded result keyed by this is the evaluation the
    /// build was made with, not a new one.
    func confInputs(_ mv: ModuleVersion, _ target: KernelTarget) -> String {
        let (path, overrides) = confFiles(mv, target)
        var enc = CanonicalEncoder(domain: "dkms-swift conf inputs 1")
        enc.append([mv.name, mv.version, target.version, target.arch, target.sourceDir, tree.root, tree.sourceTree, tree.installTree])
        for f in [path] + overrides {
            enc.append(f)
            if let b = FS.readFile(f) { enc.append(tag: 0x31); enc.append(bytes: b) } else { enc.append(tag: 0x30) }
        }
        return enc.digest().hex
    }

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

    func requireAdded(_ mv: ModuleVersion) throws {
        if isBroken(mv) {
            throw DKMSError(.broken, "\(mv) is broken!", "Missing the source directory or the symbolic link pointing to it.",
                            "Manual intervention is required!")
        }
        guard tree.isAdded(mv) else {
            throw DKMSError(.notInTree, "The module/version combo: \(mv) is not located in the DKMS tree.")
        }
    }

    /// dkms 3.1+: the version dir exists but its source link leads nowhere.
    public func isBroken(_ mv: ModuleVersion) -> Bool {
        guard FS.isDirectory(tree.versionDir(mv)) else { return false }
        let link = tree.sourceLink(mv)
        if FS.isSymlink(link) { return !FS.isDirectory(link) }
        return !FS.isDirectory(link) && FS.isDirectory(tree.sourceDir(mv))
    }
}
