import ModuleTools
import SafeFS
/// One (kernel release, arch) pair an action targets, with the headers it
/// builds against.
public struct KernelTarget: Equatable, Hashable {
    public var version: String
    public var arch: String
    public var sourceDir: String

    public init(version: String, arch: String, sourceDir: String) {
        self.version = version; self.arch = arch; self.sourceDir = sourceDir
    }

    public var configPath: String { sourceDir + "/.config" }

    /// The kernel and arch, as the tree names builds.
    public var build: BuildTarget { BuildTarget(version, arch) }

    /// The kernel's .config (`CONFIG_X=value`, string values unquoted), read
    /// on demand; a run that asks for the same kernel again gets the parsed copy.
    /// A missing file is an empty config.
    public func kernelConfig(cache: KernelConfigCache? = nil) -> KernelConfig {
        if let known = cache?.configs[configPath] { return known }
        let parsed = (try? KernelConfig.load(path: configPath)) ?? KernelConfig()
        cache?.configs[configPath] = parsed
        return parsed
    }

    /// Headers exist when the build dir has include/ (dkms's _check_kernel_dir).
    public var hasHeaders: Bool { FS.isDirectory(sourceDir + "/include") }
}

/// Parsed kernel .config files of one run (~10,000 lines each).
public final class KernelConfigCache {
    public var configs: [String: KernelConfig] = [:]
    public init() {}
}
