import Foundation
@testable import ModuleTools
import SafeFS
import TestSupport

/// The host's kernel headers, read only: the tools are checked against the real
/// `.config`, `sign-file` and kmod of the kernels Debian installed. Everything
/// written goes to temporary directories.
enum ToolFixture {
    /// Kernels with headers (/lib/modules/<k>/build/include), in version order: tests hold for
    /// one or many and never name a release. `kernel` is the first.
    static let kernels = Kernels.all
    static let kernel = Kernels.first

    static func makeTempDir(_ tag: String) -> String { TestSupport.makeTempDir("module-tools-test-\(tag)") }

    static func removeTree(_ path: String) { try? FileManager.default.removeItem(atPath: path) }

    /// Creates the parent directories too.
    static func write(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) { TestSupport.write(path, bytes, mode: mode) }

    static func bytes(_ path: String) -> [UInt8]? { try? ToolFiles.readFile(path) }

    static func run(_ tool: String, _ args: [String]) -> ProcessRunner.Result {
        (try? ProcessRunner().run(tool, args)) ?? ProcessRunner.Result(status: 127, stdout: "", stderr: "\(tool) missing")
    }

    // MARK: the real hello module (built once per test process)

    private static let helloLock = NSLock()
    nonisolated(unsafe) private static var helloCache: String??

    /// Builds a trivial hello.ko against the Debian headers. nil if the headers or
    /// compiler are unavailable (the dependent tests then skip).
    static func helloModule() -> String? {
        helloLock.lock()
        defer { helloLock.unlock() }
        if let cached = helloCache { return cached }
        let dir = makeTempDir("hello")
        write(dir + "/hello.c", Array("""
        #include <linux/module.h>
        #include <linux/init.h>
        static int __init hello_init(void) { return 0; }
        static void __exit hello_exit(void) { }
        module_init(hello_init);
        module_exit(hello_exit);
        MODULE_LICENSE("GPL");
        MODULE_DESCRIPTION("dkms installer test module");

        """.utf8))
        write(dir + "/Makefile", Array("obj-m := hello.o\n".utf8))
        let build = "/lib/modules/\(kernel)/build"
        var result: String? = nil
        if FS.exists(build + "/Makefile", followLinks: false),
           let r = try? ProcessRunner().run("make", ["-C", build, "M=\(dir)", "modules"]), r.status == 0,
           FS.exists(dir + "/hello.ko", followLinks: false) {
            result = dir + "/hello.ko"
        }
        helloCache = .some(result)
        return result
    }

    /// Deletes the built hello module's directory (class tear-down of its users).
    static func discardHelloModule() {
        helloLock.lock()
        defer { helloLock.unlock() }
        if let cached = helloCache, let path = cached { removeTree(FS.parent(path)) }
        helloCache = nil
    }
}
