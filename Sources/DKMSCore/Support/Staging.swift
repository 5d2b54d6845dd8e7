import SafeFS
import Glibc

/// Staging files and directories: written under a temporary name, synced,
/// then renamed, so a crash never leaves a half-written file under its real name.
public enum Staging {
    public static func makeDirectory(in dir: String, prefix: String) throws -> String {
        var template = Array("\(dir)/\(prefix)XXXXXX".utf8CString)
        guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw DKMSError(.failure, "Cannot create a temporary directory in \(dir): \(FS.errnoText())")
        }
        return String(cString: p)
    }

    public static func writeFile(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { throw DKMSError(.failure, "Cannot create \(path): \(FS.errnoText())") }
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                let e = errno
                close(fd); unlink(path)
                throw DKMSError(.failure, "Cannot write \(path): \(FS.errnoText(e))")
            }
            off += n
        }
        if fsync(fd) != 0 { let e = errno; close(fd); unlink(path); throw DKMSError(.failure, "Cannot write \(path): \(FS.errnoText(e))") }
        close(fd)
    }
}
