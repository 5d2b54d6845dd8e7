import Foundation
import Glibc
import XCTest
@testable import BuildCache
import TestSupport

/// A shell command line's exit status.
@discardableResult
func sh(_ cmd: String) -> Int32 { sh(["/bin/sh", "-c", cmd]).status }

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
