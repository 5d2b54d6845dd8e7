import Glibc
import SafeFS

/// Everything an action needs, resolved once from the command line,
/// framework.conf and the host: passed down explicitly, never global.
public struct Context {
    public var invocation: Invocation
    /// framework.conf, the command line and the defaults, resolved (Settings).
    public var settings: Settings
    public var tree: DKMSTree
    public var output: Output
    /// "/updates/dkms" on Debian, Ubuntu and Arch (dkms overrides
    /// DEST_MODULE_LOCATION there); nil elsewhere.
    public var destOverride: String?
    public var hostArch: String
    public var runningKernel: String
    /// The tree lock (when the action changes state) and the fault hook.
    public var run = RunState()

    public init(invocation: Invocation, settings: Settings, output: Output) {
        self.invocation = invocation
        self.settings = settings
        self.output = output
        self.tree = DKMSTree(root: settings.dkmsTree, sourceTree: settings.sourceTree, installTree: settings.installTree)
        var u = utsname()
        uname(&u)
        self.hostArch = Context.field(&u.machine)
        self.runningKernel = Context.field(&u.release)
        self.destOverride = Context.distributionOverride()
    }

    public var configDir: String { settings.configDir }
    public var jobs: Int { settings.jobs }

    static func field<T>(_ t: inout T) -> String {
        withUnsafePointer(to: &t) { $0.withMemoryRebound(to: CChar.self, capacity: MemoryLayout<T>.size) { String(cString: $0) } }
    }

    /// dkms's override_dest_module_location, keyed on /etc/os-release.
    /// The first of /etc/os-release and /usr/lib/os-release, as dkms's distro_version reads them.
    static func hasOSRelease() -> Bool {
        FS.exists("/etc/os-release") || FS.exists("/usr/lib/os-release")
    }

    static func distributionOverride() -> String? {
        switch runningDistribution() {
        case let d where d.hasPrefix("debian") || d.hasPrefix("ubuntu") || d.hasPrefix("arch"): return "/updates/dkms"
        case let d where d.hasPrefix("fedora") || d.hasPrefix("centos") || d.hasPrefix("rhel"): return "/extra"
        case let d where d.hasPrefix("sles") || d.hasPrefix("suse") || d.hasPrefix("opensuse"): return "/updates"
        default: return nil
        }
    }

    /// Whether this run uses the build cache (and the replays kept beside
    /// it): not with --no-cache or cache=no in framework.conf.
    public var usesCache: Bool { settings.useCache }

    /// The headers a kernel builds against: --kernelsourcedir, else the
    /// install tree's build link, else /lib/modules/<k>/build.
    public func kernelSourceDir(for kernel: String) -> String {
        if let k = invocation.kernelSourceDir { return k }
        let inTree = "\(tree.installTree)/\(kernel)/build"
        if FS.exists(inTree) { return inTree }
        return "/lib/modules/\(kernel)/build"
    }

    public func target(_ kernel: String, _ arch: String) -> KernelTarget {
        KernelTarget(version: kernel, arch: arch, sourceDir: kernelSourceDir(for: kernel))
    }

    /// Kernel/arch pairs named on the command line, defaulting as dkms does
    /// (running kernel, host arch; one arch applies to every kernel).
    public func targets() -> [KernelTarget] {
        let kernels = invocation.kernels.isEmpty ? [runningKernel] : invocation.kernels
        var arches = invocation.arches
        if arches.isEmpty { arches = [hostArch] }
        while arches.count < kernels.count { arches.append(arches[0]) }
        return zip(kernels, arches).map { target($0, $1) }
    }

    /// Kernels with a directory in the install tree (for `autoinstall --all` style walks).
    public func installedKernels() -> [String] {
        GlobOrder.sorted(FS.list(tree.installTree)).filter { FS.isDirectory("\(tree.installTree)/\($0)") && ModuleFileName.looksLikeKernel($0) }
    }
}

extension Context {
    /// dkms's distro_version: ID for Ubuntu, else the first word of ID_LIKE, else ID.
    static func runningDistribution() -> String {
        guard let text = FS.readText("/etc/os-release") ?? FS.readText("/usr/lib/os-release") else { return "" }
        var id = "", like = ""
        for line in text.split(separator: "\n") {
            if line.hasPrefix("ID=") { id = String(line.dropFirst(3)).trimmingCharacters(in: "\"'") }
            if line.hasPrefix("ID_LIKE=") { like = String(line.dropFirst(8)).trimmingCharacters(in: "\"'") }
        }
        if id == "ubuntu" { return id }
        return like.split(separator: " ").first.map(String.init) ?? id
    }
}

extension Context {
    /// Targets for uninstall/unbuild/remove: every built kernel with --all.
    public func removalTargets(_ mv: ModuleVersion) -> [KernelTarget] {
        guard invocation.all else { return targets() }
        return tree.kernelArches(mv)
            .filter { tree.isBuilt(mv, $0) }
            .sorted { VersionOrder.less($0.kernel + "/" + $0.arch, $1.kernel + "/" + $1.arch) }
            .map { target($0.kernel, $0.arch) }
    }
}

extension Context {
    /// --max-size from the command line, else cache_max_size from framework.conf.
    public func cacheSizeLimit() throws -> Int64 {
        let words = invocation.subcommand.dropFirst()
        let text = words.first ?? settings.cacheMaxSize
        guard let n = ByteSize.parse(text) else { throw DKMSError(.badArgument, "Invalid cache size '\(text)' (use bytes, or K, M, G suffixes).") }
        return n
    }
}
