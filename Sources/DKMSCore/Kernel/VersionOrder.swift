/// Version ordering as GNU `sort -V` does it, which is what dkms 3.2 uses for
/// BUILD_EXCLUSIVE_KERNEL_MIN/MAX and for picking the newest module version:
/// digit runs compare numerically, other runs byte-wise, "~" sorts first.
public enum VersionOrder {
    public static func compare(_ a: String, _ b: String) -> Int {
        let x = Array(a.utf8), y = Array(b.utf8)
        var i = 0, j = 0
        while i < x.count || j < y.count {
            // Non-digit prefix.
            while (i < x.count && !isDigit(x[i])) || (j < y.count && !isDigit(y[j])) {
                let cx = i < x.count && !isDigit(x[i]) ? order(x[i]) : 0
                let cy = j < y.count && !isDigit(y[j]) ? order(y[j]) : 0
                if cx != cy { return cx < cy ? -1 : 1 }
                if i < x.count && !isDigit(x[i]) { i += 1 }
                if j < y.count && !isDigit(y[j]) { j += 1 }
            }
            // Digit run, leading zeros ignored.
            while i < x.count && x[i] == UInt8(ascii: "0") { i += 1 }
            while j < y.count && y[j] == UInt8(ascii: "0") { j += 1 }
            var si = i, sj = j
            while si < x.count && isDigit(x[si]) { si += 1 }
            while sj < y.count && isDigit(y[sj]) { sj += 1 }
            let lx = si - i, ly = sj - j
            if lx != ly { return lx < ly ? -1 : 1 }
            while i < si {
                if x[i] != y[j] { return x[i] < y[j] ? -1 : 1 }
                i += 1; j += 1
            }
            i = si; j = sj
        }
        return 0
    }

    public static func less(_ a: String, _ b: String) -> Bool { compare(a, b) < 0 }

    private static func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }

    /// Debian's ordering of non-digits: "~" before end, letters before others.
    private static func order(_ c: UInt8) -> Int {
        if c == UInt8(ascii: "~") { return -1 }
        if (c >= 65 && c <= 90) || (c >= 97 && c <= 122) { return Int(c) }
        return Int(c) + 256
    }
}
