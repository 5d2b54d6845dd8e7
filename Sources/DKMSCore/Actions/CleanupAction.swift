import Glibc

extension Engine {
    public func cleanup() throws {
        let locations = [context.destOverride ?? "/updates/dkms", "/updates/dkms", "/updates", "/extra"]
        let finder = Cleanup(tree: tree, destLocations: locations)
        let findings = finder.findings()
        if findings.isEmpty { out.line("Nothing to clean up."); return }
        var total: Int64 = 0
        for f in findings {
            out.line("\(f.kind.rawValue): \(f.path) (\(humanSize(f.bytes)))")
            total += f.bytes
        }
        guard context.invocation.yes else {
            out.line("\(findings.count) item(s), \(humanSize(total)). Dry run: nothing was removed; run with --yes to remove them.")
            return
        }
        var kernels = Set<String>()
        for f in findings {
            if FS.isSymlink(f.path) || !FS.isDirectory(f.path) {
                guard unlink(f.path) == 0 || errno == ENOENT else { throw DKMSError(1, "Cannot remove \(f.path): \(FS.errnoText())") }
                AtomicFile.syncDirectory(of: f.path)
            } else {
                try Files.removeTree(f.path)
            }
            if let k = f.kernel { kernels.insert(k) }
        }
        for k in kernels.sorted() where FS.isDirectory(tree.libTree(k)) { depmod(k) }
        out.line("Removed \(findings.count) item(s), \(humanSize(total)).")
    }
}
