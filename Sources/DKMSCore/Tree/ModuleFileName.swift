import SafeFS
import ModuleTools

/// Kernel module file names: `x.ko` and its compressed forms.
public enum ModuleFileName {
    /// `.ko`, `.ko.xz`, `.ko.zst`, `.ko.gz`: the order dkms looks for them in.
    public static let suffixes = ModuleCompression.allCases.map { ".ko" + $0.suffix }

    public static func isModule(_ name: String) -> Bool { suffixes.contains { name.hasSuffix($0) } }

    /// The module name without the suffix.
    public static func stem(_ name: String) -> String {
        for s in suffixes.reversed() where name.hasSuffix(s) { return String(name.dropLast(s.count)) }
        return name
    }

    /// `dir/name.ko` or a compressed variant, as dkms's compressed_or_uncompressed.
    public static func find(in dir: String, name: String) -> String? {
        for s in suffixes {
            let p = "\(dir)/\(name)\(s)"
            if FS.exists(p) { return p }
        }
        return nil
    }

    /// dkms matches kernel directories with the glob `+([0-9]).*`.
    public static func looksLikeKernel(_ s: String) -> Bool {
        guard let f = s.unicodeScalars.first, f.properties.numericType != nil, f.value < 128 else { return false }
        let digits = s.prefix { $0.isASCII && $0.isNumber }
        return s.dropFirst(digits.count).hasPrefix(".")
    }
}
