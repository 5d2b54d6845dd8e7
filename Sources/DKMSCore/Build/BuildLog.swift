import Glibc
import Foundation

/// make.log in dkms 3.2's format: a header, then one block per command
/// with its output, exit code and elapsed time.
public struct BuildLog {
    public let fd: Int32

    func write(_ s: String) {
        var bytes = Array(s.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n <= 0 { if errno == EINTR { continue }; return }
            off += n
        }
    }

    func header(_ title: String) {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = "EEE MMM d HH:mm:ss zzz yyyy"
        write("\(title)\n\(f.string(from: Date()))\n")
    }

    /// A line of ours (not the module's) about the build, marked as such.
    func note(_ line: String) { write("# dkms-swift: \(line)\n") }

    func begin(_ what: String, command: String) { write("\n\(what)\n# command: \(command)\n") }

    func end(_ r: StepOutcome, elapsed: Double) {
        let s = Int(elapsed)
        var text = "\n# exit code: \(r.exitStatus)\n"
        if case .killed(let why, _) = r { text += "# killed: \(why)\n" }
        text += String(format: "# elapsed time: %02d:%02d:%02d\n", s / 3600, s / 60 % 60, s % 60)
        write(text + String(repeating: "-", count: 64) + "\n")
    }

    /// Where the log is, to read it back: the descriptor is the build's
    /// write-only one (the module's commands get it as their output and
    /// must not read through it), so the tail is read through a descriptor
    /// of its own.
    public var path: String? = nil

    public init(fd: Int32, path: String? = nil) {
        self.fd = fd
        self.path = path
    }

    /// What a scratch log holds (at most 64 KiB of it).
    static func contents(of fd: Int32) -> String? {
        var buf = [UInt8](repeating: 0, count: 65536)
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : nil
    }

    /// The last lines of the log, so a failure explains itself on the terminal.
    func showTail(out: Output, lines: Int = 15) {
        BuildLog.showTail(of: fd, path: path, out: out, lines: lines)
    }

    /// The tail of the file `fd` writes, read through a new read-only
    /// descriptor (from `path`, else /proc/self/fd), escaped for the
    /// terminal (Printable) since the module's commands wrote it.
    static func showTail(of fd: Int32, path: String? = nil, out: Output, lines: Int = 15) {
        guard let text = tail(of: fd, path: path, lines: lines), !text.isEmpty else { return }
        out.errorLine(Printable.visible(text, keepNewlines: true))
    }

    static func tail(of fd: Int32, path: String? = nil, lines: Int = 15) -> String? {
        var reader: Int32 = -1
        // The same file, not whatever now has its name.
        if let path, let st = fstatOf(fd) {
            let r = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
            var rs = stat()
            if r >= 0 && fstat(r, &rs) == 0 && rs.st_dev == st.st_dev && rs.st_ino == st.st_ino { reader = r } else if r >= 0 { close(r) }
        }
        if reader < 0 { reader = open("/proc/self/fd/\(fd)", O_RDONLY | O_CLOEXEC | O_NONBLOCK) }
        guard reader >= 0 else { return nil }
        defer { close(reader) }
        var st = stat()
        guard fstat(reader, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size > 0 else { return nil }
        let size = Int(st.st_size)
        let want = min(size, 8192)
        var buf = [UInt8](repeating: 0, count: want)
        let n = buf.withUnsafeMutableBytes { pread(reader, $0.baseAddress, want, off_t(size - want)) }
        guard n > 0 else { return nil }
        var bytes = buf[0..<n]
        // Started mid-file: drop the partial first line.
        if size > want, let nl = bytes.firstIndex(of: 0x0a) { bytes = bytes[(nl + 1)...] }
        var text = String(decoding: bytes, as: UTF8.self)
        while text.hasSuffix("\n") { text.removeLast() }
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    private static func fstatOf(_ fd: Int32) -> stat? {
        var st = stat()
        return fstat(fd, &st) == 0 ? st : nil
    }
}
