import Glibc
import SafeFS

/// GC roots. A pin is a named reference ("<module>/<version>/<kernel>/<arch>") to the key that
/// is currently installed for it. Pinned entries are never evicted, so removing and reinstalling
/// a kernel package or module finds its result again (the research's "reinstall is a hit").
public struct Pin: Hashable, Sendable {
    public var reference: String
    public var key: Digest
}

extension CacheStore {
    /// File name is SHA-256 of the reference: any reference string is safe and fixed-length;
    /// the reference itself is stored inside for listing.
    func pinPath(_ reference: String) -> String {
        "\(root)/pins/\(SHA256.hash(bytes: Array(reference.utf8)).hex)"
    }

    /// Points `reference` at `key`, replacing what it pinned before (one install = one key).
    public func pin(_ key: Digest, by reference: String) throws {
        try FS.writeAtomically(Array("\(key.hex)\n\(reference)\n".utf8), to: pinPath(reference))
    }

    public func unpin(by reference: String) throws {
        let p = pinPath(reference)
        if unlink(p) != 0 && errno != ENOENT { throw IOFailure("unlink", p) }
        try FS.syncDirectory(p.deletingLastComponent)
    }

    public func pins() throws -> [Pin] {
        var out: [Pin] = []
        let dir = root.appendingComponent("pins")
        for name in try FileSystem.listDirectory(dir) where !name.hasPrefix(".") {
            guard let bytes = try? FS.read(dir.appendingComponent(name)) else { continue }
            let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
            guard lines.count == 2, let key = Digest(hex: String(lines[0])) else { continue }
            var ref = String(lines[1]); if ref.hasSuffix("\n") { ref.removeLast() }
            out.append(Pin(reference: ref, key: key))
        }
        return out.sorted { $0.reference < $1.reference }
    }

    public func pinnedKeys() throws -> Set<Digest> { Set(try pins().map(\.key)) }

    public func pin(_ key: CacheKey, by reference: String) throws { try pin(key.digest, by: reference) }
}
