/// Unambiguous byte encoding for digests: every variable-length field is prefixed by its
/// length (u64 big-endian) and every record starts with a domain string, so no two different
/// structures (or two different field splits like "ab"+"c" vs "a"+"bc") encode the same bytes.
public struct CanonicalEncoder {
    public private(set) var bytes: [UInt8] = []

    public init(domain: String, capacity: Int = 256) { bytes.reserveCapacity(capacity); append(domain) }

    public mutating func append(_ v: UInt64) {
        withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func append(bytes b: [UInt8]) { append(UInt64(b.count)); bytes.append(contentsOf: b) }

    public mutating func append(bytes b: ArraySlice<UInt8>) { append(UInt64(b.count)); bytes.append(contentsOf: b) }

    public mutating func append(_ s: String) { append(bytes: Array(s.utf8)) }

    /// Single-character type tags (fixed length, so no prefix needed).
    public mutating func append(tag: UInt8) { bytes.append(tag) }

    public mutating func append(_ d: Digest) { append(d.w0); append(d.w1); append(d.w2); append(d.w3) }

    public mutating func append(_ list: [String]) { append(UInt64(list.count)); for s in list { append(s) } }

    /// Sorted by key bytes so dictionary iteration order never leaks into a digest.
    public mutating func append(_ map: [String: String]) {
        let sorted = map.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
        append(UInt64(sorted.count))
        for (k, v) in sorted { append(k); append(v) }
    }

    public func digest() -> Digest { SHA256.hash(bytes: bytes) }
}
