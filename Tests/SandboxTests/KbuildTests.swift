import Foundation
import XCTest
@testable import Sandbox
import TestSupport

/// End-to-end: a real out-of-tree module build under the shipped kbuild profile, compared
/// byte-for-byte with the same build outside the sandbox (research §3.1, §6.3 item 27).
final class KbuildTests: XCTestCase {
    static let helloC = """
        #include <linux/init.h>
        #include <linux/module.h>
        MODULE_LICENSE("GPL");
        MODULE_DESCRIPTION("csandbox hello");
        static int __init hello_init(void) { pr_info("hello\\n"); return 0; }
        static void __exit hello_exit(void) { pr_info("bye\\n"); }
        module_init(hello_init);
        module_exit(hello_exit);
        """

    func sha256(_ path: String) throws -> String {
        let p = Process()
        let pipe = Pipe()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        p.arguments = [path]
        p.standardOutput = pipe
        try p.run()
        p.waitUntilExit()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return String(out.split(separator: " ").first ?? "")
    }

    /// Build `files` (relative path -> contents) with Kbuild inside the sandbox (overlay over a
    /// root-owned pristine tree) and outside at the same path; return both .ko hashes.
    func buildInsideAndOutside(files: [String: String], module: String) throws -> (inside: String, outside: String, result: SandboxResult) {
        let fm = FileManager.default
        let dir = try T.scratch("kmod")
        defer { try? fm.removeItem(atPath: dir) }
        let src = "\(dir)/src", upper = "\(dir)/upper", work = "\(dir)/work"
        // The same path for both builds: on the host it is a plain directory, in the sandbox the
        // overlay (lower = pristine, root-owned sources) is mounted there.
        let buildPath = "\(dir)/build"
        for d in [src, upper, work, buildPath] { try fm.createDirectory(atPath: d, withIntermediateDirectories: true) }
        for (rel, text) in files {
            for base in [src, buildPath] {
                let path = "\(base)/\(rel)"
                try fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try text.write(toFile: path, atomically: true, encoding: .utf8)
            }
        }
        T.chownTree(upper); T.chownTree(work)

        let extraEnv = ["SOURCE_DATE_EPOCH": "0", "kernelver": T.kernel]
        let argv = ["make", "-j2", "-C", T.headers, "M=\(buildPath)", "KCFLAGS=-ffile-prefix-map=\(buildPath)/=", "modules"]

        let profile = try T.profile("kbuild")
        let spec = SandboxSpec(argv: argv, env: SandboxSpec.environment(extraEnv), cwd: buildPath,
                               mounts: [.overlay(lower: [src], upper: upper, work: work, target: buildPath)],
                               headersDirs: [T.headers], profile: profile)
        let log = "\(dir)/sandbox-build.log"
        let r = try Sandbox.run(spec, logTo: .path(log))
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        XCTAssertTrue(fm.fileExists(atPath: "\(upper)/\(module).ko"), "the .ko must land in the upper dir")
        XCTAssertFalse(fm.fileExists(atPath: "\(src)/\(module).ko"), "the lower dir must stay pristine")
        XCTAssertEqual(try fm.subpathsOfDirectory(atPath: src).filter { !$0.hasSuffix("/") }.sorted(),
                       Set(files.keys.flatMap { k -> [String] in
                           var parts = [k]; var p = (k as NSString).deletingLastPathComponent
                           while !p.isEmpty { parts.append(p); p = (p as NSString).deletingLastPathComponent }
                           return parts }).sorted())
        XCTAssertEqual(try String(contentsOfFile: log, encoding: .utf8), r.outputTail)

        // The same build outside, same environment.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/make")
        p.arguments = Array(argv.dropFirst())
        p.currentDirectoryURL = URL(fileURLWithPath: buildPath)
        var env: [String: String] = [:]
        for kv in SandboxSpec.environment(extraEnv) {
            let parts = kv.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            env[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        return (try sha256("\(upper)/\(module).ko"), try sha256("\(buildPath)/\(module).ko"), r)
    }

    func testHelloModuleBuildsIdenticallyInsideAndOutside() throws {
        let (inside, outside, r) = try buildInsideAndOutside(
            files: ["hello.c": KbuildTests.helloC, "Makefile": "obj-m := hello.o\n"], module: "hello")
        print("KBUILD hello.ko sha256 inside=\(inside) outside=\(outside) duration=\(String(format: "%.2f", r.duration))s peak=\(r.peakMemoryBytes ?? 0)")
        XCTAssertFalse(inside.isEmpty)
        XCTAssertEqual(inside, outside)
    }

    func testModuleWithSubdirectoriesFromRootOwnedSources() throws {
        // Objects in a subdirectory of a root-owned tree: needs the id-mapped lower layer.
        let files = [
            "Makefile": "obj-m := multi.o\nmulti-y := main.o lib/helper.o\n",
            "main.c": "#include <linux/module.h>\nMODULE_LICENSE(\"GPL\");\nint csb_helper(void);\nstatic int __init m_init(void) { return csb_helper(); }\nmodule_init(m_init);\n",
            "lib/helper.c": "int csb_helper(void);\nint csb_helper(void) { return 0; }\n",
        ]
        let (inside, outside, _) = try buildInsideAndOutside(files: files, module: "multi")
        XCTAssertFalse(inside.isEmpty)
        XCTAssertEqual(inside, outside)
    }

    func testConfEvalProfileSourcesDkmsConf() throws {
        let fm = FileManager.default
        let dir = try T.scratch("conf")
        defer { try? fm.removeItem(atPath: dir) }
        try """
            PACKAGE_NAME="hello"
            PACKAGE_VERSION="1.0"
            MAKE[0]="make -C ${kernel_source_dir} M=${dkms_tree}/${PACKAGE_NAME}/${PACKAGE_VERSION}/build"
            BUILT_MODULE_NAME[0]="hello"
            KREL=$(uname -r)
            """.write(toFile: "\(dir)/dkms.conf", atomically: true, encoding: .utf8)
        let profile = try T.profile("conf-eval")
        let script = """
            . /conf/dkms.conf; echo "$PACKAGE_NAME $PACKAGE_VERSION ${BUILT_MODULE_NAME[0]}"
            mkdir /tmp/x 2>/dev/null && echo MKDIR-OK
            (echo hi > /dev/tcp/127.0.0.1/22) 2>/dev/null && echo NET-OK
            exit 0
            """
        let spec = SandboxSpec(argv: ["/bin/bash", "-c", script], mounts: [.readOnlyBind(source: dir, target: "/conf")],
                               profile: profile)
        let r = try Sandbox.run(spec)
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        XCTAssertEqual(r.outputTail, "hello 1.0 hello\n")
        // Tight limits: an endless dkms.conf is stopped by the 5 s wall clock.
        var slow = SandboxSpec(argv: ["/bin/bash", "-c", "while :; do :; done"], profile: profile)
        slow.limits.wallClockSeconds = 0.5
        XCTAssertEqual(try Sandbox.run(slow).outcome, .limitExceeded(.wallClock))
    }
}
