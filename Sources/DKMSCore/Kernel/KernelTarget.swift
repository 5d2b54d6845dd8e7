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

    /// `CONFIG_X=value` lines of the kernel's .config, read on demand; a
    /// run that asks for the same kernel again gets the parsed copy.
    public func kernelConfig(cache: KernelConfigCache? = nil) -> [String: String] {
        if let known = cache?.configs[configPath] { return known }
        let parsed = parseConfig()
        cache?.configs[configPath] = parsed
        return parsed
    }

    func parseConfig() -> [String: String] {
        guard let text = FS.readText(configPath) else { return [:] }
        var result: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("CONFIG_") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            result[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return result
    }

    /// Headers exist when the build dir has include/ (dkms's _check_kernel_dir).
    public var hasHeaders: Bool { FS.isDirectory(sourceDir + "/include") }
}

/// Parsed kernel .config files of one run (~10,000 lines each).
public final class KernelConfigCache {
    public var configs: [String: [String: String]] = [:]
    public init() {}
}
