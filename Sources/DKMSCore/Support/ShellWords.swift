import Foundation

func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

/// `s` as one shell word: as it is when it holds only characters the shell
/// takes literally (so a logged command reads as dkms's), quoted otherwise.
func shellWord(_ s: String) -> String {
    let plain = !s.isEmpty && s.unicodeScalars.allSatisfy { c in
        (c.value < 128 && (CharacterSet.alphanumerics.contains(c))) || "._-/+,@%=:".unicodeScalars.contains(c)
    }
    return plain ? s : shellQuote(s)
}
