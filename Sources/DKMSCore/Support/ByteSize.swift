/// A size as dkms-swift's settings write it: bytes, or K, M, G, T (KiB... or KB... alike).
public enum ByteSize {
    public static func parse(_ s: String) -> Int64? {
        let units: [Character: Int64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var t = s.uppercased()
        if t.hasSuffix("IB") { t.removeLast(2) } else if t.hasSuffix("B") { t.removeLast() }
        if let u = t.last, let mult = units[u], let n = Int64(t.dropLast()) { return n * mult }
        return Int64(t)
    }
}
