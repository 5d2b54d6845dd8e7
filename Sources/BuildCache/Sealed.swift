/// Bytes followed by their SHA-256. The small files the cache keeps beside its store (kernel
/// tree records, directory listings, replayed dkms.conf evaluations) are written this way, so
/// a torn, foreign or edited file fails the check and reads as absent: a re-computation,
/// never a wrong answer.
public enum Sealed {
    public static func seal(_ body: [UInt8]) -> [UInt8] { body + SHA256.hash(bytes: body).bytes }

    /// The body, or nil when the checksum does not match.
    public static func open(_ bytes: [UInt8]) -> ArraySlice<UInt8>? {
        guard bytes.count >= Digest.byteCount else { return nil }
        let body = bytes[..<(bytes.count - Digest.byteCount)]
        return SHA256.hash(bytes: body).bytes == Array(bytes[body.endIndex...]) ? body : nil
    }
}
