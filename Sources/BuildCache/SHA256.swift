import COpenSSL
import Foundation

/// Incremental SHA-256 backed by libcrypto's low-level API. OpenSSL picks the SHA-NI code path
/// at runtime (1.7 GB/s here vs ~0.3 GB/s for portable code), and SHA256_CTX is a plain C struct,
/// so this stays a value type with no allocation per file.
public struct SHA256: Sendable {
    private var ctx = SHA256_CTX()

    public init() { SHA256_Init(&ctx) }

    public mutating func update(_ buffer: UnsafeRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        SHA256_Update(&ctx, base, buffer.count)
    }

    public mutating func update<C: ContiguousBytes>(_ bytes: C) {
        bytes.withUnsafeBytes { update($0) }
    }

    public mutating func finalize() -> Digest {
        // Final into four words on the stack: no heap allocation per file.
        var w: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &w) { _ = SHA256_Final($0.baseAddress!.assumingMemoryBound(to: UInt8.self), &ctx) }
        return Digest(words: UInt64(bigEndian: w.0), UInt64(bigEndian: w.1), UInt64(bigEndian: w.2), UInt64(bigEndian: w.3))
    }

    public static func hash<C: ContiguousBytes>(bytes: C) -> Digest {
        var h = SHA256(); h.update(bytes); return h.finalize()
    }
}

