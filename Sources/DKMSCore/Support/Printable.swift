/// Module-supplied text shown to the user: control characters (C0, DEL,
/// C1) and the invisible or reordering ones (bidi overrides and isolates,
/// zero-width) are written as escapes, as git and systemd do, so a name
/// or a script's output cannot move the cursor or disguise itself.
public enum Printable {
    public static func visible(_ s: String, keepNewlines: Bool = false) -> String {
        var out = ""
        for c in s.unicodeScalars {
            let v = c.value
            if keepNewlines && (v == 0x0a || v == 0x09) { out.unicodeScalars.append(c); continue }
            if v < 0x20 || v == 0x7f || (0x80...0x9f).contains(v) {
                out += "\\x" + String(v, radix: 16, uppercase: false).leftPadded(2)
            } else if isInvisible(v) {
                out += "\\u{" + String(v, radix: 16) + "}"
            } else {
                out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Zero-width characters, bidi marks, embeddings, overrides and isolates, the BOM.
    public static func isInvisible(_ v: UInt32) -> Bool {
        (0x200b...0x200f).contains(v) || (0x202a...0x202e).contains(v) || (0x2066...0x2069).contains(v)
            || v == 0xfeff || v == 0x061c || v == 0x2060
    }
}

extension String {
    fileprivate func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
