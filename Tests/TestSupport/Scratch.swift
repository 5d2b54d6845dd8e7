import Foundation
import Glibc

/// A fresh directory under /tmp, `<tag>-XXXXXX`, with `mode` (0755 when a sandbox's
/// unprivileged uid must reach into it). Tests never write the host's own trees.
public func makeTempDir(_ tag: String, mode: mode_t = 0o700) -> String {
    var template = Array("/tmp/\(tag)-XXXXXX".utf8CString)
    guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
        fatalError("mkdtemp /tmp/\(tag)-XXXXXX: \(String(cString: strerror(errno)))")
    }
    let path = String(cString: p)
    chmod(path, mode)
    return path
}

/// A scratch directory removed with its last reference.
public final class TempDir {
    public let path: String
    public init(_ tag: String = "dkms-test", mode: mode_t = 0o700) { path = makeTempDir(tag, mode: mode) }
    deinit { _ = try? FileManager.default.removeItem(atPath: path) }
    public func sub(_ name: String) -> String { path + "/" + name }
}

/// Writes a file, making its parent directories.
public func write(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) {
    let parent = (path as NSString).deletingLastPathComponent
    try! FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { fatalError("cannot write \(path)") }
    chmod(path, mode)
}

public func write(_ path: String, _ text: String, mode: mode_t = 0o644) { write(path, Array(text.utf8), mode: mode) }

/// A file's text; empty when it cannot be read. Read to the end with read(2): Foundation's
/// readers stop after the first chunk of a /proc file (its size says 0), and
/// /proc/self/mountinfo on a machine with many mounts is longer than one page.
public func read(_ path: String) -> String { String(decoding: readBytes(path) ?? [], as: UTF8.self) }

/// A file's bytes to the end, nil when it cannot be opened.
public func readBytes(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if n < 0 { if errno == EINTR { continue }; break }
        if n == 0 { break }
        out.append(contentsOf: chunk[0..<n])
    }
    return out
}
