import BuildCache
import SafeFS

/// dkms.conf as a run reads it: where the file and its /etc/dkms overrides are, their
/// evaluation in the evaluator the run chose (the sandbox's, or the host's), the
/// validated ModuleConfig it yields, memoized for the run (RunState.confs), and the
/// identity of those inputs that a build records.
struct ConfReader {
    let context: Context
    let evaluator: ConfEvaluator

    /// dkms's read_conf (`strict: false`: uninstall, unbuild, remove, status
    /// decisions) or read_conf_strict (add, build, install): the directive
    /// errors of either are fatal; a strict read also reports deprecated
    /// directives (when the file is evaluated, not for a memoized result, as
    /// dkms skips a file it has just read), warns about zero modules and
    /// refuses duplicate module names, each time.
    func read(_ mv: ModuleVersion, _ target: KernelTarget, confPath: String? = nil,
              strict: Bool = true, silently: Bool = false) throws -> ModuleConfig {
        let out = silently ? Output(quiet: true) : context.output
        let (path, overrides) = files(mv, target, confPath: confPath)
        let memoKey = "\(path)\u{0}\(mv.name)\u{0}\(mv.version)\u{0}\(target.version)\u{0}\(target.arch)\u{0}\(target.sourceDir)"
        let conf: ModuleConfig
        if let known = context.run.confs[memoKey] {
            conf = known
        } else {
            let ctx = ConfEvaluator.Context(kernelVersion: target.version, arch: target.arch, kernelSourceDir: target.sourceDir,
                                            dkmsTree: context.tree.root, sourceTree: context.tree.sourceTree, installTree: context.tree.installTree,
                                            module: mv.name, moduleVersion: mv.version)
            let cwd = FS.realPath(String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])) ?? "/"
            let evaluated = try evaluator.evaluate(confPath: path, overrides: overrides, context: ctx, cwd: cwd)
            if !evaluated.diagnostics.isEmpty {
                out.errorLine(Printable.visible(evaluated.diagnostics.trimmingCharacters(in: "\n"), keepNewlines: true))
            }
            if strict {
                for d in ModuleConfigBuilder.deprecations(evaluated.raw, confPath: path) { out.deprecated(d) }
            }
            var builder = ModuleConfigBuilder(target: target, dkmsTree: context.tree.root, module: mv.name, moduleVersion: mv.version,
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
        if strict { try checkStrictly(conf, path: path, out: out) }
        return conf
    }

    /// read_conf_strict's findings on an evaluated file, said each time dkms reads it
    /// strictly (a build, then its install: "Zero modules specified" twice).
    func checkStrictly(_ conf: ModuleConfig, path: String, out: Output) throws {
        let (warnings, errors) = ModuleConfigBuilder.strictFindings(conf)
        for w in warnings { out.errorLine(w) }
        if !errors.isEmpty {
            for l in errors { out.errorLine(l) }
            throw DKMSError(.badConf, "Bad conf file.", "File: \(path) does not represent a valid dkms.conf file.")
        }
    }

    /// The dkms.conf evaluated for m/v on `target` and the override files
    /// (in /etc/dkms) evaluated after it, in order.
    func files(_ mv: ModuleVersion, _ target: KernelTarget, confPath: String? = nil) -> (path: String, overrides: [String]) {
        let path = confPath ?? context.invocation.conf ?? context.tree.confPath(mv)
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
    func inputs(_ mv: ModuleVersion, _ target: KernelTarget) -> String {
        let (path, overrides) = files(mv, target)
        var enc = CanonicalEncoder(domain: "dkms-swift conf inputs 1")
        enc.append([mv.name, mv.version, target.version, target.arch, target.sourceDir, context.tree.root, context.tree.sourceTree, context.tree.installTree])
        for f in [path] + overrides {
            enc.append(f)
            if let b = FS.readFile(f) { enc.append(tag: 0x31); enc.append(bytes: b) } else { enc.append(tag: 0x30) }
        }
        return enc.digest().hex
    }
}
