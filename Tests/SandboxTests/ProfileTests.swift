import Foundation
import XCTest
@testable import Sandbox
import TestSupport

/// Loader and compiler rules (research §4.2); no privileges needed.
final class ProfileTests: XCTestCase {
    func parse(_ s: String) throws -> SeccompProfile { try SeccompProfile.parse(Data(s.utf8)) }

    func testShippedProfilesCompile() throws {
        for name in ["kbuild", "conf-eval"] {
            let p = try T.profile(name)
            XCTAssertGreaterThan(p.compiled.instructionCount, 10)
            XCTAssertEqual(p.compiled.warnings, [], name)
        }
        XCTAssertEqual(try T.profile("kbuild").limits, SandboxLimits.kbuildDefault)
        XCTAssertEqual(try T.profile("conf-eval").limits.wallClockSeconds, 5)
    }

    func testUnreadableFilesAreIOErrorsNamingThem() {
        XCTAssertThrowsError(try SeccompProfile.load(path: "/nonexistent/p.json")) { e in
            XCTAssertEqual(e as? SandboxError, .io(path: "/nonexistent/p.json", errno: ENOENT))
        }
        XCTAssertThrowsError(try SandboxLimits.load(path: "/")) { e in
            XCTAssertEqual(e as? SandboxError, .io(path: "/", errno: EISDIR))
        }
    }

    func testUInt64MaxDecodesExactly() throws {
        let p = try parse("""
            {"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["ioctl"],"action":"SCMP_ACT_ERRNO",
             "args":[{"index":1,"value":18446744073709551615,"valueTwo":18446744073709551614,"op":"SCMP_CMP_MASKED_EQ"}]}]}
            """)
        XCTAssertEqual(p.syscalls[0].args[0].value, UInt64.max)
        XCTAssertEqual(p.syscalls[0].args[0].valueTwo, UInt64.max - 1)
        XCTAssertThrowsError(try parse(#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":18446744073709551616,"op":"SCMP_CMP_EQ"}]}]}"#))
        XCTAssertThrowsError(try parse(#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1.5,"op":"SCMP_CMP_EQ"}]}]}"#))
    }

    func testUnknownKeysRejectedCommentAllowed() throws {
        XCTAssertNoThrow(try parse(#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"comment":"why","names":["read"],"action":"SCMP_ACT_LOG"}]}"#))
        XCTAssertThrowsError(try parse(#"{"defaultAction":"SCMP_ACT_ALLOW","archMap":[]}"#)) { e in
            XCTAssertTrue("\(e)".contains("archMap"), "\(e)")
        }
        XCTAssertThrowsError(try parse(#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_LOG","includes":{}}]}"#))
        XCTAssertThrowsError(try parse(#"{"defaultAction":"SCMP_ACT_ALLOW","defaultErrnoRet":1}"#))
        XCTAssertThrowsError(try parse(#"{"defaultAction":"SCMP_ACT_BOGUS"}"#))
        XCTAssertThrowsError(try SandboxLimits.parse(Data(#"{"memoryBytes":1,"bogus":2}"#.utf8)))
    }

    func testShadowedRuleRejectedNamingBothEntries() throws {
        let p = try parse("""
            {"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"syscalls":[
              {"names":["read","ioctl"],"action":"SCMP_ACT_ALLOW","comment":"blanket"},
              {"names":["ioctl"],"action":"SCMP_ACT_ERRNO","errnoRet":1,"comment":"no TIOCSTI",
               "args":[{"index":1,"value":4294967295,"valueTwo":21522,"op":"SCMP_CMP_MASKED_EQ"}]}]}
            """)
        XCTAssertThrowsError(try SeccompCompiler.compile(p)) { e in
            let m = "\(e)"
            XCTAssertTrue(m.contains("syscalls[0]") && m.contains("syscalls[1]") && m.contains("ioctl"), m)
            XCTAssertTrue(m.contains("blanket") && m.contains("no TIOCSTI"), m)
        }
    }

    func testMixedIndexArgsRejectedSameIndexIsOr() throws {
        let mixed = try parse("""
            {"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[
              {"index":0,"value":0,"op":"SCMP_CMP_EQ"},{"index":0,"value":8,"op":"SCMP_CMP_EQ"},{"index":1,"value":0,"op":"SCMP_CMP_EQ"}]}]}
            """)
        XCTAssertThrowsError(try SeccompCompiler.compile(mixed)) { e in XCTAssertTrue("\(e)".contains("split"), "\(e)") }
        let or = try parse("""
            {"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[
              {"index":0,"value":0,"op":"SCMP_CMP_EQ"},{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]}]}
            """)
        XCTAssertNoThrow(try SeccompCompiler.compile(or))
    }

    func testUnknownNames() throws {
        let deny = try parse(#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["keyctl","no_such_syscall"],"action":"SCMP_ACT_KILL_PROCESS"}]}"#)
        XCTAssertThrowsError(try SeccompCompiler.compile(deny)) { e in XCTAssertTrue("\(e)".contains("no_such_syscall"), "\(e)") }
        let errno = try parse(#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mseal_typo"],"action":"SCMP_ACT_ERRNO"}]}"#)
        XCTAssertThrowsError(try SeccompCompiler.compile(errno))
        let allow = try parse(#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","no_such_syscall"],"action":"SCMP_ACT_ALLOW"}]}"#)
        let c = try SeccompCompiler.compile(allow)
        XCTAssertEqual(c.warnings.count, 1)
        XCTAssertTrue(c.warnings[0].contains("no_such_syscall"))
    }

    func testArchitecturesNativeOnly() throws {
        let p = try parse(#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],"syscalls":[]}"#)
        let c = try SeccompCompiler.compile(p)
        XCTAssertEqual(c.warnings.count, 2)
        XCTAssertThrowsError(try SeccompCompiler.compile(try parse(#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_VAX"]}"#)))
    }

    func testOverlayEscaping() {
        XCTAssertEqual(escapeOverlayPath(#"/a\b,c:d"#), #"/a\\b\,c\:d"#)
    }

    func testEnvironmentHelper() {
        XCTAssertEqual(SandboxSpec.environment(["TZ": "Europe/Paris", "kernelver": "6.1"]),
                       ["HOME=/nonexistent", "LANG=C.UTF-8", "LC_ALL=C", "PATH=/usr/bin:/bin", "TMPDIR=/tmp", "TZ=Europe/Paris", "kernelver=6.1"])
    }
}
