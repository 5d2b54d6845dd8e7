import Foundation

/// A SHA-256 digest. Stored as four UInt64 words so it is cheap to hash, compare and
/// keep by the tens of thousands in the stat memo without per-digest heap allocations.
public struct Digest: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let byteCount = 32

    @usableFromInline var w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    /// Bytes must be exactly 32 long (big-endian word order, i.e. the usual hex order).
    public init<C: Collection>(bytes: C) where C.Element == UInt8 {
        precondition(bytes.count == Digest.byteCount, "SHA-256 digest must be 32 bytes")
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var i = 0
        for b in bytes {
            let shift = UInt64(56 - 8 * (i % 8))
            switch i / 8 {
            case 0: words.0 |= UInt64(b) << shift
            case 1: words.1 |= UInt64(b) << shift
            case 2: words.2 |= UInt64(b) << shift
            default: words.3 |= UInt64(b) << shift
            }
            i += 1
        }
        (w0, w1, w2, w3) = words
    }

    init(words w0: UInt64, _ w1: UInt64, _ w2: UInt64, _ w3: UInt64) {
        self.w0 = w0; self.w1 = w1; self.w2 = w2; self.w3 = w3
    }

    /// Parses 64 lowercase or uppercase hex characters; nil on anything else.
    public init?(hex: String) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 64 else { return nil }
        var bytes = [UInt8](repeating: 0, count: 32)
        for i in 0..<32 {
            guard let hi = Digest.nibble(utf8[2 * i]), let lo = Digest.nibble(utf8[2 * i + 1]) else { return nil }
            bytes[i] = hi << 4 | lo
        }
        self.init(bytes: bytes)
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    public var bytes: [UInt8] {
        var out = [UInt8](); out.reserveCapacity(32)
        for w in [w0, w1, w2, w3] { for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: w >> UInt64(s))) } }
        return out
    }

    /// Lowercase hex, the form used for file names and keys (REAPI/bazel-remote convention).
    public var hex: String {
        let table = Array("0123456789abcdef".utf8)
        var chars = [UInt8](); chars.reserveCapacity(64)
        for b in bytes { chars.append(table[Int(b >> 4)]); chars.append(table[Int(b & 0xf)]) }
        return String(decoding: chars, as: UTF8.self)
    }

    /// First 12 hex characters: for logs and human-facing labels, never for lookups.
    public var short: String { String(hex.prefix(12)) }

    public var description: String { hex }

    public static func < (a: Digest, b: Digest) -> Bool {
        (a.w0, a.w1, a.w2, a.w3) < (b.w0, b.w1, b.w2, b.w3)
    }

    /// Digest of the empty input; handy as a neutral placeholder ("no sandbox profile").
    public static let empty = SHA256.hash(bytes: [UInt8]())
}
