import Glibc
import SafeFS

/// The set of directories a `make -C <build> M=...` actually reads, resolved from
/// `/lib/modules/<K>/build`.
///
/// Debian splits the tree: the flavour objtree (`linux-headers-K`: .config, Module.symvers,
/// generated headers) has a one-line Makefile `include <srctree>/Makefile` pointing at
/// `linux-headers-<abi>-common`, and both have `scripts`/`tools` symlinks into the shared,
/// in-place-upgraded `linux-kbuild-<ver>`. All of it must be in the key.
public struct KernelBuildTree: Sendable, Equatable {
    /// Real path of the objtree (what `build` points at).
    public var objtree: String
    /// Real path of the srctree if it differs from the objtree (Debian's -common).
    public var srctree: String?

    public init(objtree: String, srctree: String?) { self.objtree = objtree; self.srctree = srctree }

    /// Resolves `buildDirectory` (e.g. /lib/modules/<kernel>/build) and follows the
    /// objtree Makefile's `include .../Makefile` to find the srctree. A tree without such a
    /// line (a full self-built kernel tree) is its own srctree.
    public static func discover(buildDirectory: String) throws -> KernelBuildTree {
        guard let obj = FS.realPath(buildDirectory) else { throw CacheError.kernelTreeNotFound(buildDirectory) }
        guard (try? FileSystem.statKey(obj))?.isDirectory == true else { throw CacheError.kernelTreeNotFound(buildDirectory) }
        var src: String?
        if let mk = try? FS.read(obj.appendingComponent("Makefile")), mk.count < 4096 {
            for line in String(decoding: mk, as: UTF8.self).split(separator: "\n") {
                let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                guard words.count == 2, words[0] == "include", words[1].hasSuffix("/Makefile") else { continue }
                var dir = String(words[1].dropLast("/Makefile".count))
                if !dir.hasPrefix("/") { dir = obj.appendingComponent(dir) }
                if let real = FS.realPath(dir), real != obj { src = real }
            }
        }
        return KernelBuildTree(objtree: obj, srctree: src)
    }

    public static func discover(kernelRelease: String, modulesRoot: String = "/lib/modules") throws -> KernelBuildTree {
        try discover(buildDirectory: modulesRoot.appendingComponent(kernelRelease).appendingComponent("build"))
    }

    /// Labelled roots: labels (not paths) enter the digest, so relocated copies digest equal.
    public var roots: [TreeRoot] {
        var r = [TreeRoot(label: "objtree", path: objtree)]
        if let s = srctree { r.append(TreeRoot(label: "srctree", path: s)) }
        return r
    }

    /// The options the kernel tree must be digested with: external links (scripts, tools ->
    /// linux-kbuild) are resolved and their content digested in place; nothing excluded.
    public static func digestOptions(threads: Int = 2) -> TreeDigestOptions {
        TreeDigestOptions(symlinks: .followExternal, exclude: nil, threads: threads)
    }

    public func digest(using digester: inout FileDigester, threads: Int = 2) throws -> MultiTreeDigest {
        try TreeDigester(options: Self.digestOptions(threads: threads)).digest(roots: roots, using: &digester)
    }
}

extension KernelBuildTree {
    /// The content digest, as `digest(using:)` computes it, but a process that finds the tree
    /// as the last computation left it (same `TreeFingerprint`) reuses that result: a stat
    /// walk instead of memo load + 16,000 probes + Merkle assembly. Otherwise it digests with
    /// the kernel trees' own stat memo (`stat-memo-kernel.v1`, kept apart so other digests
    /// do not load 16,000 entries they never probe) and records the result, unless some entry
    /// is younger than `minimumAgeSeconds` (a second write within one timestamp tick would go
    /// unseen) or the tree changed while it was digested.
    public func digest(memoDirectory: String, threads: Int = 2, minimumAgeSeconds: Double = 2.0) throws -> Digest {
        let paths = roots.map(\.path)
        let record = KernelTreeRecord(directory: memoDirectory, roots: paths)
        let listings = record.loadListings()
        let before = try TreeFingerprint.compute(roots: paths, threads: threads, known: listings)
        let oldEnough = FileSystem.nowNs() - before.newestNs >= Int64(minimumAgeSeconds * 1e9)
        if let known = record.load(), known.fingerprint == before.fingerprint {
            // A record from before listings were kept: this walk read every directory.
            if listings == nil && oldEnough { record.saveListings(before.listings) }
            return known.digest
        }
        var digester = FileDigester(memoDirectory: memoDirectory, memoFileName: "stat-memo-kernel.v1",
                                    minimumAgeSeconds: minimumAgeSeconds)
        let digest = try self.digest(using: &digester, threads: threads).digest
        try? digester.save()
        // Read every directory again: the listings recorded are the file system's, not a copy.
        let after = try TreeFingerprint.compute(roots: paths, threads: threads)
        if after.fingerprint == before.fingerprint, oldEnough {
            record.save(fingerprint: before.fingerprint, digest: digest, listings: after.listings)
        }
        return digest
    }
}

/// `<memo>/kernel-trees/<roots digest>`: fingerprint and content digest, sealed.
struct KernelTreeRecord {
    let path: String

    init(directory: String, roots: [String]) {
        var enc = CanonicalEncoder(domain: "buildcache.kernel-tree-record.v1")
        enc.append(roots)
        path = directory.appendingComponent("kernel-trees").appendingComponent(enc.digest().hex)
    }

    func load() -> (fingerprint: Digest, digest: Digest)? {
        guard let file = try? FS.read(path), let b = Sealed.open(file), b.count == 64 else { return nil }
        return (Digest(bytes: b.prefix(32)), Digest(bytes: b.suffix(32)))
    }

    var listingsPath: String { path + ".listings" }

    func loadListings() -> DirectoryListings? {
        (try? FS.read(listingsPath)).flatMap(DirectoryListings.decode)
    }

    func save(fingerprint: Digest, digest: Digest, listings: DirectoryListings) {
        saveListings(listings)
        try? FS.writeAtomically(Sealed.seal(fingerprint.bytes + digest.bytes), to: path)
    }

    /// Each listing stands alone (a directory with that stat key had those names, and was old
    /// enough), so listings and record need not be written together.
    func saveListings(_ listings: DirectoryListings) {
        try? FileSystem.makeDirectories(String(path[..<path.lastIndex(of: "/")!]))
        try? FS.writeAtomically(listings.encoded(), to: listingsPath)
    }
}
