import Glibc

public enum EntryKind: Sendable { case file, directory, symlink }

/// Decides which entries are left out of a tree digest, e.g. stale build products in a module
/// source tree (the build must start from a clean copy, so they are not inputs).
public struct ExcludeRule: Sendable {
    /// relativePath is "/"-separated from the tree root ("sub/foo.o"); name is its last component.
    public let predicate: @Sendable (_ relativePath: String, _ name: String, _ kind: EntryKind) -> Bool

    public init(_ predicate: @escaping @Sendable (_ relativePath: String, _ name: String, _ kind: EntryKind) -> Bool) {
        self.predicate = predicate
    }

    /// Excludes entries whose *name* matches any shell glob (fnmatch, leading dot must be explicit).
    public static func names(_ globs: [String]) -> ExcludeRule {
        ExcludeRule { _, name, _ in globs.contains { fnmatch($0, name, FNM_PERIOD) == 0 } }
    }

    /// Kbuild outputs that appear in an `M=` directory after a build.
    public static let moduleBuildProducts = ExcludeRule.names([
        "*.o", "*.ko", ".*.cmd", "*.mod", "*.mod.c", "*.mod.o", "modules.order", "Module.symvers",
        ".tmp_versions", ".cache.mk", "*.dwo", ".*.d", ".module-common.o",
    ])

    public func or(_ other: ExcludeRule) -> ExcludeRule {
        ExcludeRule { p, n, k in self.predicate(p, n, k) || other.predicate(p, n, k) }
    }
}

/// What to do with a symlink met during the walk.
public enum SymlinkPolicy: Sendable {
    /// Record the link as (type, target string) and never follow it (NAR semantics).
    case record
    /// Follow links that are absolute or resolve outside the tree being walked, digesting the
    /// target's content in place of the link; record relative links that stay inside.
    /// This makes the digest independent of where external targets live (kernel `scripts` ->
    /// linux-kbuild), while internal relative links stay cheap and path independent.
    case followExternal
    /// Follow every link that resolves; dangling links are recorded.
    case followAll
}

public struct TreeDigestOptions: Sendable {
    public var symlinks: SymlinkPolicy
    public var exclude: ExcludeRule?
    /// Worker threads for hashing memo misses. 2 is right for this 2-core box; cold runs are
    /// I/O bound and a second reader helps overlap latency.
    public var threads: Int

    public init(symlinks: SymlinkPolicy = .record, exclude: ExcludeRule? = nil, threads: Int = 2) {
        self.symlinks = symlinks; self.exclude = exclude; self.threads = max(1, threads)
    }
}

/// Result of digesting one tree, with counts for logs and benchmarks.
public struct TreeDigestResult: Sendable {
    public var digest: Digest
    /// File entries in the tree (a file reachable twice via followed links counts twice).
    public var files = 0
    /// Distinct files (by inode) whose digest was needed.
    public var uniqueFiles = 0
    public var bytes: Int64 = 0
    public var directories = 0
    public var symlinks = 0
    /// Files actually read during this call (memo misses).
    public var filesHashed = 0
    public var bytesHashed: Int64 = 0
}
