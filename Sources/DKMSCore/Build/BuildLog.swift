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

    /// What a scratch log holds (at most 64 KiB of it).
    static func contents(of fd: Int32) -> String? {
        var buf = [UInt8](repeating: 0, count: 65536)
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : nil
    }

    /// The last lines of the log, so a failure explains itself on the terminal.
    static func showTail(of fd: Int32, out: Output, lines: Int = 15) {
        let size = lseek(fd, 0, SEEK_END)
        guard size > 0 else { return }
        let want = min(Int(size), 8192)
        var buf = [UInt8](repeating: 0, count: want)
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, off_t(Int(size) - want)) }
        guard n > 0 else { return }
        let text = String(decoding: buf[0..<n], as: UTF8.self)
        let tail = text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines)
        out.errorLine(tail.joined(separator: "\n"))
    }
}
