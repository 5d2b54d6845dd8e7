import SafeFS

/// A dkms command line, parsed the way dkms 3.x parses it: the action may
/// stand anywhere, options take `--opt value` or `--opt=value`, the module
/// may be `-m NAME -v VERSION`, `-m NAME/VERSION` or a bare `NAME/VERSION`,
/// and `-k KERNEL/ARCH` pairs a kernel with its arch.
public struct Invocation: Equatable {
    public enum Action: String, CaseIterable {
        case add, remove, build, install, uninstall, unbuild, autoinstall, status
        case match, mktarball, ldtarball, generate_mok
        case kernel_preinst, kernel_postinst, kernel_prerm
        // Our own additions.
        case cache, verify, cleanup, recover
    }

    public var action: Action?
    public var module: String?
    public var moduleVersion: String?
    public var kernels: [String] = []
    public var arches: [String] = []
    public var sourcePath: String?
    public var archive: String?
    /// `match --templatekernel=K`.
    public var templateKernel: String?
    public var conf: String?
    public var jobs: Int?
    public var all = false
    public var force = false
    /// mktarball: --binaries-only, --source-only.
    public var binariesOnly = false
    public var sourceOnly = false
    public var forceVersionOverride = false
    public var verbose = false
    public var quiet = false
    public var noDepmod = false
    public var modprobeOnInstall = false
    public var dkmsTree: String?
    public var sourceTree: String?
    public var installTree: String?
    public var kernelSourceDir: String?
    public var kernelConfig: String?
    public var showVersion = false
    public var showHelp = false
    public var noCache = false
    public var noSandbox = false
    public var sandboxProfile: String?
    public var json = false
    public var yes = false
    /// Words after the action for actions that take a sub-command (`cache stats`).
    public var subcommand: [String] = []
    public var warnings: [String] = []
    public var deprecations: [String] = []

    public init() {}

    public static func parse(_ args: [String], isSourceDir: (String) -> Bool = { FS.isRegularFile($0 + "/dkms.conf") },
                             isFile: (String) -> Bool = FS.isRegularFile) throws -> Invocation {
        var inv = Invocation()
        var i = 0
        func value(_ arg: String) throws -> String {
            if let eq = arg.firstIndex(of: "="), arg.hasPrefix("--") { return String(arg[arg.index(after: eq)...]) }
            i += 1
            guard i < args.count else { throw DKMSError(.badArgument, "Option \(arg) requires an argument.") }
            return args[i]
        }
        func name(_ arg: String) -> String {
            arg.hasPrefix("--") ? String(arg.split(separator: "=", maxSplits: 1)[0]) : arg
        }
        while i < args.count {
            let arg = args[i]
            switch name(arg) {
            case "-m", "--module":
                let mv = try value(arg)
                inv.setModule(mv)
            case "-v": inv.moduleVersion = try value(arg)
            case "-k", "--kernelver":
                let ka = try value(arg)
                if let slash = ka.firstIndex(of: "/") {
                    inv.kernels.append(String(ka[..<slash])); inv.arches.append(String(ka[ka.index(after: slash)...]))
                } else { inv.kernels.append(ka) }
            case "-a", "--arch": inv.arches.append(try value(arg))
            case "-c": inv.conf = try value(arg)
            case "-j": inv.jobs = Int(try value(arg))
            case "--dkmstree": inv.dkmsTree = try value(arg)
            case "--sourcetree": inv.sourceTree = try value(arg)
            case "--installtree": inv.installTree = try value(arg)
            case "--kernelsourcedir": inv.kernelSourceDir = try value(arg)
            case "--config": inv.kernelConfig = try value(arg)
            case "--archive": inv.archive = try value(arg)
            case "--templatekernel": inv.templateKernel = try value(arg)
            case "--directive": _ = try value(arg)
            case "--sandbox-profile": inv.sandboxProfile = try value(arg)
            case "-q", "--quiet": inv.quiet = true
            case "-V", "--version": inv.showVersion = true
            case "-h", "--help": inv.showHelp = true
            case "--force": inv.force = true
            case "--force-version-override": inv.forceVersionOverride = true
            case "--all": inv.all = true
            case "--verbose": inv.verbose = true
            case "--no-depmod": inv.noDepmod = true
            case "--modprobe-on-install": inv.modprobeOnInstall = true
            case "--no-cache": inv.noCache = true
            case "--no-sandbox": inv.noSandbox = true
            case "--json": inv.json = true
            case "--yes", "-y": inv.yes = true
            case "--no-initrd", "--no-clean-kernel", "--no-prepare-kernel": inv.deprecations.append(arg)
            case "--binaries-only": inv.binariesOnly = true
            case "--source-only": inv.sourceOnly = true
            case "--rpm_safe_upgrade", "--symlink-modules", "--debug": break
            default:
                if arg.hasPrefix("-") && arg.count > 1 {
                    throw DKMSError(.badArgument, " Unknown option: \(arg)")
                }
                if inv.action == nil, let a = Action(rawValue: arg) {
                    inv.action = a
                } else if let a = inv.action, a == .cache || a == .cleanup, inv.module == nil, !arg.contains("/") || a == .cache {
                    inv.subcommand.append(arg)
                } else if Action(rawValue: arg) != nil, inv.action != nil {
                    throw DKMSError(.multipleActions, "Cannot specify more than one action.")
                } else if arg.hasSuffix("dkms.conf") && isFile(arg) {
                    inv.sourcePath = String(arg.dropLast("dkms.conf".count)) + "./"
                } else if isSourceDir(arg) {
                    inv.sourcePath = arg
                } else if isFile(arg) {
                    inv.archive = arg
                } else if inv.module == nil {
                    inv.setModule(arg)
                } else {
                    inv.warnings.append("I do not know how to handle \(arg).")
                }
            }
            i += 1
        }
        try inv.validate()
        return inv
    }

    mutating func setModule(_ mv: String) {
        if let slash = mv.firstIndex(of: "/") {
            module = String(mv[..<slash])
            moduleVersion = String(mv[mv.index(after: slash)...])
        } else {
            module = mv
        }
    }

    /// The same sanity checks, in the same order and with the same codes, as dkms.
    func validate() throws {
        if arches.count > 1 && kernels.count != arches.count {
            throw DKMSError(.failure, " If more than one arch is specified on the command line, then there",
                            "must be an equal number of kernel versions also specified (1:1 relationship).")
        }
        if !kernels.isEmpty && all {
            throw DKMSError(.badArgument, " You cannot specify a kernel version and also specify", "--all on the command line.")
        }
        if !arches.isEmpty && all {
            throw DKMSError(.archWithAll, " You cannot specify an arch and also specify", "--all on the command line.")
        }
        for k in kernels {
            if let p = NameRules.problem(inKernel: k) { throw DKMSError(.failure, "Invalid kernel version '\(Printable.visible(k))': \(p).") }
        }
        for a in arches {
            if let p = NameRules.problem(inKernel: a) { throw DKMSError(.failure, "Invalid arch '\(Printable.visible(a))': \(p).") }
        }
    }

    public static let usage = """
    Usage: dkms [action] [options]
      [action]  = { add | remove | build | install | uninstall | unbuild | autoinstall |
                    status | match | mktarball | generate_mok | cache | verify | cleanup | recover }
      [options] = [-m module] [-v module-version] [-k kernel-version] [-a arch]
                  [-c dkms.conf-location] [-q] [--force] [--all] [--templatekernel=kernel]
                  [--kernelsourcedir=source-location] [--verbose]
                  [--dkmstree path] [--sourcetree path] [--installtree path]
                  [--no-depmod] [--modprobe-on-install] [-j number] [--version]
                  [--archive=tarball] [--binaries-only] [--source-only]
                  [--no-cache] [--no-sandbox] [--sandbox-profile name] [--json] [--yes]
    """
}

extension Invocation {
    /// dkms's have_one_kernel for the kernel hooks: exactly one -k, the
    /// running kernel is not assumed.
    public func requireOneKernel(_ name: String) throws {
        if all { throw DKMSError(.allUnsupported, "The action \(name) does not support the --all parameter.") }
        guard kernels.count == 1 else {
            throw DKMSError(.wrongKernelCount, "The action \(name) requires exactly one kernel version parameter on the command line.")
        }
    }
}
