/// One kernel module a package builds: dkms.conf's per-index arrays
/// (BUILT_MODULE_NAME[i], BUILT_MODULE_LOCATION[i], ...) gathered as a record.
public struct ModuleSpec: Equatable, Codable {
    public var builtName: String
    public var builtLocation: String      // "" or a relative dir ending in "/"
    public var destName: String
    public var destLocation: String       // where it is installed, e.g. "/updates/dkms"
    public var declaredDestLocation: String // DEST_MODULE_LOCATION as written
    public var strip: Bool
}

/// A dkms.conf evaluated for one kernel and arch, with dkms's defaults
/// applied and every per-kernel choice (MAKE_MATCH, PATCH_MATCH,
/// BUILD_EXCLUSIVE_*) already made.
public struct ModuleConfig: Equatable {
    /// Whether every module loses its debug info after the build (STRIP).
    public var strippedOutput: Bool { !modules.isEmpty && modules.allSatisfy(\.strip) }

    public var packageName: String
    public var packageVersion: String
    public var modules: [ModuleSpec]
    public var makeCommand: String
    public var cleanCommand: String
    public var patches: [String]
    public var autoinstall: Bool
    /// BUILD_DEPENDS_REBUILD=yes: rebuilt when a BUILD_DEPENDS module's
    /// version changes (dkms's .dep_<module> files).
    public var rebuildOnDependencyUpdate: Bool = false
    public var buildDepends: [String]
    public var preBuild: String
    public var postBuild: String
    public var postAdd: String
    public var preInstall: String
    public var postInstall: String
    public var postRemove: String
    public var obsoleteBy: String
    /// Why the kernel/arch/config is excluded, or nil when it may be built.
    public var buildExclusion: String?
    public var raw: RawConf
    /// Every record dkms.conf declares, `modules` being those BUILD_EXCLUSIVE
    /// leaves in for this kernel.
    public var declaredModules: [ModuleSpec] = []
    /// Whether a BUILD_EXCLUSIVE directive applies to any record (dkms then
    /// says nothing of an uninstall that finds nothing installed).
    public var hasExclusiveDirectives: Bool = false
}
