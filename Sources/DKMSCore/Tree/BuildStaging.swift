import SafeFS

extension DKMSTree {
    /// <m>/<v>/<k>/.tmp_<a>_XXXXXX with module/ and log/: where a build's
    /// output, fresh or from the cache, is assembled before BuildPublication
    /// renames it to <a> (dkms 3.2's staging).
    public func newStaging(_ mv: ModuleVersion, _ t: BuildTarget) throws -> String {
        try Files.makeDirectories(kernelDir(mv, t.kernel))
        let staging = try Staging.makeDirectory(in: kernelDir(mv, t.kernel), prefix: ".tmp_\(t.arch)_")
        do {
            try Files.makeDirectories(staging + "/module")
            try Files.makeDirectories(staging + "/log")
        } catch {
            try? Files.removeTree(staging)
            throw error
        }
        return staging
    }

    /// `$dkms_tree/.staging`, which recovery empties after a crash.
    public func stagingRoot() throws -> String {
        let dir = root + "/.staging"
        try Files.makeDirectories(dir)
        return dir
    }

    /// dkms's check for headers before a build, naming where it looked.
    public func requireHeaders(_ target: KernelTarget) throws {
        let k = target.version
        guard target.hasHeaders else {
            throw DKMSError(.missingHeaders, "Your kernel headers for kernel \(k) cannot be found at \(installTree)/\(k)/build or \(installTree)/\(k)/source.",
                            "Please install your distribution's kernel headers package matching \(k), or use the --kernelsourcedir option to tell DKMS where it's located.")
        }
    }
}
