import ModuleTools
/// Where things live: dkms 3.x's own on-disk layout, so the reference `dkms status`
/// reads trees we write and we read trees it wrote.
public struct DKMSLayout: Equatable, Sendable {
    /// How the `kernel-<kver>-<arch>` marker link names the installed version.
    public enum LinkStyle: Equatable, Sendable {
        /// `<v>/<kver>/<arch>` — what dkms 3.0.x writes (`ln -s "$module_version/$kernelver/$arch"`)
        /// and what its `_is_module_installed` compares via `readlink -f`.
        case versionKernelArch
        /// `<v>` alone.
        case versionOnly
    }

    public var dkmsTree: String
    public var installTree: String
    public var linkStyle: LinkStyle

    public init(dkmsTree: String = "/var/lib/dkms", installTree: String = "/lib/modules",
                linkStyle: LinkStyle = .versionKernelArch) {
        self.dkmsTree = dkmsTree
        self.installTree = installTree
        self.linkStyle = linkStyle
    }

    public func moduleDirectory(_ module: String) -> String { FS.join(dkmsTree, module) }
    public func versionDirectory(_ module: String, _ version: String) -> String {
        FS.join(moduleDirectory(module), version)
    }
    public func kernelArchDirectory(_ module: String, _ version: String, _ kernel: String, _ arch: String) -> String {
        FS.join(FS.join(versionDirectory(module, version), kernel), arch)
    }
    /// `$dkms_tree/<m>/<v>/<kver>/<arch>/module`: the built `.ko*` files.
    public func builtModuleDirectory(_ module: String, _ version: String, _ kernel: String, _ arch: String) -> String {
        FS.join(kernelArchDirectory(module, version, kernel, arch), "module")
    }
    /// `$dkms_tree/<m>/kernel-<kver>-<arch>`: present iff installed for that kernel.
    public func kernelLink(_ module: String, _ kernel: String, _ arch: String) -> String {
        FS.join(moduleDirectory(module), "kernel-\(kernel)-\(arch)")
    }
    public func linkTarget(_ version: String, _ kernel: String, _ arch: String) -> String {
        switch linkStyle {
        case .versionKernelArch: return "\(version)/\(kernel)/\(arch)"
        case .versionOnly: return version
        }
    }
    /// `$dkms_tree/<m>/original_module/<kver>/<arch>`.
    public func originalModuleDirectory(_ module: String, _ kernel: String, _ arch: String) -> String {
        FS.join(FS.join(FS.join(moduleDirectory(module), "original_module"), kernel), arch)
    }
    public func kernelDirectory(_ kernel: String) -> String { FS.join(installTree, kernel) }
    public func destinationDirectory(_ kernel: String, location: String) -> String {
        FS.join(kernelDirectory(kernel), location)
    }

    /// The version installed for a kernel, read from the marker link (either style).
    public func installedVersion(_ module: String, _ kernel: String, _ arch: String) -> String? {
        guard let target = FS.readLink(kernelLink(module, kernel, arch)) else { return nil }
        // Tolerate an absolute target (hand-made links): take the component after the module dir.
        let prefix = moduleDirectory(module) + "/"
        let rel = target.hasPrefix(prefix) ? String(target.dropFirst(prefix.count)) : target
        return rel.split(separator: "/").first.map(String.init)
    }

    /// The built module files (`*.ko`, `*.ko.xz`, `*.ko.zst`, `*.ko.gz`), sorted.
    public func builtModules(_ module: String, _ version: String, _ kernel: String, _ arch: String) -> [String] {
        let dir = builtModuleDirectory(module, version, kernel, arch)
        return FS.listDirectory(dir)
            .filter { ModuleCompression.moduleName(fileName: $0) != nil && FS.kind(FS.join(dir, $0)) != .directory }
            .map { FS.join(dir, $0) }
    }

    /// Rejects names that would escape the tree ("..", "/") before any path is built from them.
    public static func validateComponent(_ value: String, what: String) throws {
        guard !value.isEmpty, value != ".", value != "..", !value.contains("/"), !value.contains("\0") else {
            throw InstallerError.invalidArgument("invalid \(what) '\(value)': must be a single path component")
        }
    }
}
