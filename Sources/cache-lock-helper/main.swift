import BuildCache
import Foundation
import Glibc

// Test helper for cross-process single flight:
//   cache-lock-helper <store-root> <key-hex> <log-file> <build-ms>
// Takes the key lock, looks the key up; on a miss appends "build <pid>" to the log, sleeps
// <build-ms> (a pretend build) and stores a result; on a hit appends "hit <pid>".
// Appends use O_APPEND so lines from both processes interleave whole.

func appendLine(_ path: String, _ line: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
    guard fd >= 0 else { exit(3) }
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
}

let a = CommandLine.arguments
guard a.count == 5, let key = Digest(hex: a[2]), let ms = UInt32(a[4]) else {
    FileHandle.standardError.write("usage: cache-lock-helper <store-root> <key-hex> <log-file> <build-ms>\n".data(using: .utf8)!)
    exit(2)
}
do {
    let store = try CacheStore(root: a[1])
    let pid = getpid()
    try store.withKeyLock(key) {
        if try store.lookup(key) != nil {
            appendLine(a[3], "hit \(pid)")
            return
        }
        appendLine(a[3], "build \(pid)")
        usleep(ms * 1000)
        let out = "\(a[1])/../helper-out-\(pid).ko"
        guard FileManager.default.createFile(atPath: out, contents: Data("module built by \(a[2])\n".utf8)) else { exit(4) }
        try store.store(key, files: [(relativePath: "m.ko", sourcePath: out)],
                        labels: ResultLabels(module: "m", version: "1", kernel: "k", arch: "x86_64"))
    }
} catch {
    FileHandle.standardError.write("\(error)\n".data(using: .utf8)!)
    exit(1)
}
