/// Everything that determines a module build's output, reduced to digests and canonical strings.
/// Names (uname -r, package versions) are deliberately absent: they are labels, not inputs.
public struct BuildInputs: Sendable, Equatable {
    /// Bump when the key format or the build recipe changes; disowns every older entry.
    public var schemaVersion: UInt32
    /// TreeDigester digest of the module source tree *after* patching, build products excluded.
    public var moduleSource: Digest
    /// dkms.conf evaluated for this kernel: resolved MAKE, BUILT_MODULE_*, STRIP, ..., plus a
    /// digest of the raw file bytes if the caller wants it (e.g. key "dkms.conf.sha256").
    public var config: [String: String]
    /// KernelBuildTree digest (objtree + srctree + resolved kbuild links).
    public var kernelTree: Digest
    /// Role -> digest of each binary that runs ("cc", "cc1", "as", "ld", "make", "strip", ...).
    public var toolchain: [String: Digest]
    /// Exact argv of the build, including every VAR=value override (order matters to make).
    public var makeArgv: [String]
    /// The scrubbed environment the build runs with (sorted when encoded).
    public var environment: [String: String]
    public var arch: String
    /// Digest of the sandbox profile / build-path policy (prefix maps or fixed build dir).
    public var sandboxProfile: Digest
    /// Operator namespace / salt (REAPI Action.salt): change to disown a poisoned set.
    public var salt: String

    public init(schemaVersion: UInt32 = CacheKey.currentSchema, moduleSource: Digest, config: [String: String],
                kernelTree: Digest, toolchain: [String: Digest], makeArgv: [String], environment: [String: String],
                arch: String, sandboxProfile: Digest = .empty, salt: String = "") {
        self.schemaVersion = schemaVersion; self.moduleSource = moduleSource; self.config = config
        self.kernelTree = kernelTree; self.toolchain = toolchain; self.makeArgv = makeArgv
        self.environment = environment; self.arch = arch; self.sandboxProfile = sandboxProfile; self.salt = salt
    }
}
