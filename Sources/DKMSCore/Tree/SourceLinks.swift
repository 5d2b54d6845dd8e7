import Glibc
import SafeFS

/// Module sources as the tree links them.
extension DKMSTree {
    /// <m>/<v>/source -> `src`, as dkms's add makes it.
    public func linkSource(_ src: String, _ mv: ModuleVersion) throws {
        try Files.makeDirectories(buildDir(mv))
        guard symlink(src, sourceLink(mv)) == 0 else {
            throw DKMSError(.failure, "Could not create \(sourceLink(mv)): \(FS.errnoText())")
        }
    }

    /// The module/version of the DKMS tree, other than m/v, whose source link leads to `dir`.
    public func sourceOwner(of dir: String, except mv: ModuleVersion) -> String? {
        guard let real = FS.realPath(dir) else { return nil }
        for om in modules() {
            for ov in versions(om) where ModuleVersion(om, ov) != mv {
                if FS.realPath(sourceLink(ModuleVersion(om, ov))) == real { return "\(om)/\(ov)" }
            }
        }
        return nil
    }
}
