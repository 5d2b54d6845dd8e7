import Glibc
import SafeFS

/// Checks a file a build produced before it is accepted as a kernel
/// module: opened without following links, a single-link regular file under
/// a size cap, an ELF relocatable object for the target machine, whose
/// `.modinfo` vermagic names the target kernel. The bytes are returned so
/// that the caller copies what was checked, never the sandbox's inode.
public enum ModuleCheck {
    public static let maxSize = 512 * 1024 * 1024

    /// `read` is how the bytes are got (BuildEnvironment.readOutput: beneath
    /// the build's layers, never through a link, at most `maxSize`).
    public static func read(_ path: String, kernel: String, arch: String,
                            read: (String, Int) -> Result<[UInt8], BoundedFile.Problem>) throws -> [UInt8] {
        let bytes: [UInt8]
        switch read(path, maxSize) {
        case .success(let b): bytes = b
        case .failure(.symlink): throw DKMSError(.badBuildOutput, "Built module \(path) is a symbolic link or lies under one.")
        case .failure(.openFailed(let why)): throw DKMSError(.badBuildOutput, "Built module \(path) \(why).")
        case .failure(.statFailed(let why)): throw DKMSError(.badBuildOutput, "Built module \(path): \(why)")
        case .failure(.notRegular): throw DKMSError(.badBuildOutput, "Built module \(path) is not a regular file.")
        case .failure(.hardLinks(let n)): throw DKMSError(.badBuildOutput, "Built module \(path) has \(n) hard links.")
        case .failure(.tooLarge): throw DKMSError(.badBuildOutput, "Built module \(path) is larger than \(maxSize) bytes.")
        case .failure(.shortRead): throw DKMSError(.badBuildOutput, "Built module \(path): short read")
        case .failure(.escapes): throw DKMSError(.badBuildOutput, "Built module \(path) lies outside the build directory.")
        case .failure(.missing): throw DKMSError(.badBuildOutput, "Built module \(path) does not exist.")
        }
        if let problem = problem(in: bytes, kernel: kernel, arch: arch) {
            throw DKMSError(.badBuildOutput, "Built module \(path) \(problem).")
        }
        return bytes
    }

    static func machine(for arch: String) -> UInt16? {
        switch arch {
        case "x86_64", "amd64", "ia32e": return 62
        case "aarch64", "arm64": return 183
        case "i386", "i686", "x86": return 3
        case "riscv64": return 243
        case "ppc64le", "ppc64": return 21
        case "s390x": return 22
        default: return nil
        }
    }

    /// nil when the bytes are an acceptable module for `kernel`/`arch`.
    /// Every offset and size is the module's: read as unsigned, bounded by
    /// the file, added with overflow checks, so no value traps or indexes
    /// outside the bytes.
    public static func problem(in b: [UInt8], kernel: String, arch: String) -> String? {
        guard b.count >= 64, b[0] == 0x7f, b[1] == 0x45, b[2] == 0x4c, b[3] == 0x46 else { return "is not an ELF file" }
        guard b[4] == 2, b[5] == 1 else { return "is not a 64-bit little-endian ELF object" }
        // Callers check o + width <= b.count first.
        func u16(_ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }
        func u32(_ o: Int) -> UInt64 { UInt64(u16(o)) | UInt64(u16(o + 2)) << 16 }
        func u64(_ o: Int) -> UInt64 { u32(o) | u32(o + 4) << 32 }
        /// A 64-bit offset or size as an Int, when it is within the file.
        func bounded(_ v: UInt64) -> Int? { v <= UInt64(b.count) ? Int(v) : nil }
        /// [off, off + size) lies within the file.
        func span(_ off: Int, _ size: Int) -> Bool {
            let (end, overflow) = off.addingReportingOverflow(size)
            return off >= 0 && size >= 0 && !overflow && end <= b.count
        }
        guard u16(16) == 1 else { return "is not a relocatable object" }
        if let want = machine(for: arch), u16(18) != Int(want) { return "is not built for \(arch)" }
        let shentsize = u16(58), shnum = u16(60), shstrndx = u16(62)
        guard shentsize == 64, shnum > 0, shstrndx < shnum, let shoff = bounded(u64(40)), shoff > 0,
              span(shoff, shnum * 64) else {
            return "has a malformed section table"
        }
        func section(_ i: Int) -> (name: Int, off: Int?, size: Int?) {
            let o = shoff + i * 64
            return (Int(u32(o)), bounded(u64(o + 24)), bounded(u64(o + 32)))
        }
        let strtab = section(shstrndx)
        guard let strOff = strtab.off, let strSize = strtab.size, span(strOff, strSize) else { return "has a malformed section table" }
        let strEnd = strOff + strSize
        func name(_ off: Int) -> String {
            guard off < strSize else { return "" }
            var e = strOff + off
            let s = e
            while e < strEnd && b[e] != 0 { e += 1 }
            return String(decoding: b[s..<e], as: UTF8.self)
        }
        for i in 0..<shnum {
            let s = section(i)
            guard name(s.name) == ".modinfo" else { continue }
            guard let off = s.off, let size = s.size, span(off, size) else { return "has a malformed .modinfo section" }
            for entry in b[off..<(off + size)].split(separator: 0) {
                let text = String(decoding: entry, as: UTF8.self)
                if text.hasPrefix("vermagic=") {
                    let magic = text.dropFirst("vermagic=".count)
                    return magic.hasPrefix(kernel + " ") || magic == kernel ? nil
                        : "has vermagic '\(Printable.visible(magic.trimmingCharacters(in: " ")))', not kernel \(kernel)"
                }
            }
            return "has no vermagic in .modinfo"
        }
        return "has no .modinfo section"
    }
}
