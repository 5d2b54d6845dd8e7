import BuildCache
import Glibc
import SafeFS

/// The build cache's part of `dkms cleanup`: entries no build, install or
/// reinstall of this tree can hit any more.
///
/// "No longer reachable" is decided conservatively; when in doubt an entry stays.
/// - A build entry (a record with key components) is unreachable when it is not
///   pinned (no installed module came from it) and
///   * its module/version has no entry with a source in the dkms tree (no
///     `<dkms_tree>/<module>/<version>/source` directory, or that entry is one
///     this cleanup removes), or
///   * its kernel has no build tree any more (the headers it builds against), or
///   * the kernel-tree component recorded at store time differs from the one
///     that kernel's build tree gives now (new headers: no build computes this
///     key again).
///   A record without components (written before they were kept) is kept, and
///   so is one whose kernel tree cannot be digested.
/// - A signature entry (stored by digest alone, one file `signed.ko`) is
///   unreachable when it is not pinned and the unsigned module it signs (its
///   blob with the signature stripped) is no file of a build entry that stays.
///   One whose blob cannot be read is kept.
/// - A blob is unreachable when no record references it. Blobs only
///   unreachable records reference are counted in, and removed with, the first
///   of those records.
/// A cache shared by several dkms trees (cache_dir) is judged by this tree
/// alone: other trees' unpinned entries count as unreachable here.
struct CacheCleanup {
    var tree: DKMSTree
    var session: BuildCacheSession
    var run: RunState?
    /// Where a kernel's headers are (Context.kernelSourceDir).
    var headersDir: (String) -> String

    /// The file a signature entry holds (see ModuleSigning.sign).
    static let signedFile = "signed.ko"

    /// `removing`: paths the tree part of this cleanup removes.
    func findings(removing: Set<String>) throws -> [Cleanup.Finding] {
        let inventory = try session.store.inventory()
        var kernelComponents: [String: (name: String, digest: String)?] = [:]
        var unreachable: [(entry: CacheEntry, why: String)] = []
        var staying: [CacheEntry] = []
        var signatures: [CacheEntry] = []
        for e in inventory.entries {
            if inventory.pinned.contains(e.key) { staying.append(e); continue }
            guard let components = e.components else {
                if e.files.map(\.path) == [Self.signedFile] { signatures.append(e) } else { staying.append(e) }
                continue
            }
            let l = e.labels
            let why: String?
            let mv = ModuleVersion(l.module, l.version)
            if !FS.isDirectory(tree.sourceLink(mv)) || removing.contains(tree.versionDir(mv)) {
                why = "not in the dkms tree"
            } else if !FS.isDirectory(headersDir(l.kernel)) {
                why = "kernel build tree gone"
            } else {
                let now = kernelComponents[l.kernel] ?? kernelTreeComponent(l.kernel)
                kernelComponents[l.kernel] = now
                if let now, let then = components[now.name], then != now.digest { why = "kernel headers changed since it was built" }
                else { why = nil }
            }
            if let why { unreachable.append((e, why)) } else { staying.append(e) }
        }
        var unsignedStaying = Set<Digest>()
        for e in staying { unsignedStaying.formUnion(e.files.map(\.digest)) }
        for e in signatures {
            guard let f = e.files.first, let signed = FS.readFile(f.blobPath) else { staying.append(e); continue }
            if unsignedStaying.contains(SHA256.hash(bytes: ModuleSignature.stripped(signed))) { staying.append(e) }
            else { unreachable.append((e, "signature of a module no longer cached")) }
        }

        var kept = Set<Digest>()
        for e in staying { kept.formUnion(e.files.map(\.digest)) }
        var result: [Cleanup.Finding] = []
        for (e, why) in unreachable.sorted(by: { Self.label($0.entry) < Self.label($1.entry) }) {
            let own = Set(e.files.map(\.digest)).subtracting(kept).sorted()
            kept.formUnion(own)
            let bytes = own.reduce(e.recordBytes) { $0 + (inventory.blobSizes[$1] ?? 0) }
            result.append(Cleanup.Finding(kind: .unreachableCacheEntry, path: e.recordPath, bytes: bytes, kernel: nil,
                                          note: "\(Self.label(e)): \(why)", cacheItem: .record(e.key, blobs: own)))
        }
        for b in inventory.unreferencedBlobs {
            result.append(Cleanup.Finding(kind: .unreferencedCacheBlob, path: session.store.blobPath(of: b),
                                          bytes: inventory.blobSizes[b] ?? 0, kernel: nil, cacheItem: .blob(b)))
        }
        return result
    }

    static func label(_ e: CacheEntry) -> String {
        "\(e.labels.module)/\(e.labels.version), \(e.labels.kernel) (\(e.labels.arch))"
    }

    /// The kernel-tree key component of `kernel`'s build tree now; nil when
    /// it cannot be digested (then no entry is judged by it).
    func kernelTreeComponent(_ kernel: String) -> (name: String, digest: String)? {
        guard let d = try? session.kernelTreeDigest(headersDir(kernel), run: run) else { return nil }
        let c = CacheKey.kernelTreeComponent(d)
        return (c.name, c.digest.hex)
    }
}
