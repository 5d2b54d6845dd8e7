import Foundation
import Glibc
import XCTest
@testable import BuildCache

/// A fresh directory per test, removed afterwards.
final class TempDir {
    let path: String
    init() {
        var template = Array("/tmp/buildcache-test-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }!
        path = String(cString: p)
    }
    deinit { _ = try? FileManager.default.removeItem(atPath: path) }
    func sub(_ name: String) -> String { path + "/" + name }
}

func write(_ path: String, _ text: String, mode: mode_t = 0o644) {
    try! FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
    chmod(path, mode)
}

func read(_ path: String) -> String { String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self) }

@discardableResult
func sh(_ cmd: String) -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", cmd]
    try! p.run(); p.waitUntilExit()
    return p.terminationStatus
}

func statOf(_ path: String) -> stat { var st = stat(); lstat(path, &st); return st }

/// A clock 10 s ahead, so freshly written test files count as "old enough" to memoize
/// without sleeping 2 s per test.
let futureClock: @Sendable () -> Int64 = { FileDigester.realtimeNs() + 10_000_000_000 }

/// Builds a small tree exercising every entry type.
func makeSampleTree(_ root: String) {
    write(root + "/Makefile", "obj-m += hello.o\n")
    write(root + "/hello.c", "int x;\n")
    write(root + "/include/hello.h", "#define X 1\n")
    write(root + "/scripts/gen.sh", "#!/bin/sh\necho hi\n", mode: 0o755)
    symlink("include/hello.h", root + "/hello-link.h")
    try! FileManager.default.createDirectory(atPath: root + "/empty", withIntermediateDirectories: true)
}

func treeDigest(_ root: String, _ options: TreeDigestOptions = TreeDigestOptions()) throws -> Digest {
    var d = FileDigester(memoDirectory: nil)
    return try TreeDigester(options: options).digest(root: root, using: &d).digest
}
