import SafeFS

extension CacheCleanup {
    /// The cache part of cleanup; nil when the cache is off (cache=no,
    /// --no-cache) or was never created: then there is nothing to look at.
    static func of(_ context: Context) -> CacheCleanup? {
        let root = BuildCacheSession.root(context)
        guard context.usesCache, FS.isDirectory(root),
              let session = try? BuildCacheSession(context) else { return nil }
        return CacheCleanup(tree: context.tree, session: session, run: context.run, headersDir: { context.kernelSourceDir(for: $0) })
    }
}
