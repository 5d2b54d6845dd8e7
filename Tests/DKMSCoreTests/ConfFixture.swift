import XCTest
import Glibc
@testable import DKMSCore
import TestSupport

/// A temporary directory holding one dkms.conf, evaluated for a fake kernel
/// whose .config the test controls.
struct ConfFixture {
    let dir: String
    let kernelDir: String

    init(_ conf: String, kernelConfig: String = "CONFIG_FOO=y\nCONFIG_BAR=m\n# CONFIG_BAZ is not set\n",
         extraFiles: [String: String] = [:]) throws {
        dir = makeTempDir("dkms-conf-test")
        kernelDir = dir + "/kernel"
        try Files.makeDirectories(kernelDir + "/include")
        try Staging.writeFile(dir + "/dkms.conf", Array(conf.utf8))
        try Staging.writeFile(kernelDir + "/.config", Array(kernelConfig.utf8))
        for (name, text) in extraFiles { try Staging.writeFile(dir + "/" + name, Array(text.utf8)) }
    }

    var target: KernelTarget { KernelTarget(version: "6.1.0-0-test", arch: "x86_64", sourceDir: kernelDir) }

    func evaluate(version: String = "6.1.0-0-test", arch: String = "x86_64") throws -> ConfEvaluator.Evaluated {
        let ctx = ConfEvaluator.Context(kernelVersion: version, arch: arch, kernelSourceDir: kernelDir,
                                        dkmsTree: "/var/lib/dkms", sourceTree: "/usr/src", installTree: "/lib/modules",
                                        module: "m", moduleVersion: "1")
        return try ConfEvaluator().evaluate(confPath: dir + "/dkms.conf", context: ctx, cwd: dir)
    }

    func config(version: String = "6.1.0-0-test", arch: String = "x86_64", override: String? = "/updates/dkms") throws -> ModuleConfig {
        let raw = try evaluate(version: version, arch: arch).raw
        var t = target
        t.version = version; t.arch = arch
        return try ModuleConfigBuilder(target: t, dkmsTree: "/var/lib/dkms", module: "m", moduleVersion: "1",
                                       destOverride: override, confPath: dir + "/dkms.conf").build(raw)
    }

    func remove() { _ = try? Files.removeTree(dir) }
}

func XCTAssertDKMSError(_ body: @autoclosure () throws -> Any, code: Int32, contains text: String,
                        file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try body()
        XCTFail("expected an error containing '\(text)'", file: file, line: line)
    } catch let e as DKMSError {
        XCTAssertEqual(e.exitCode, code, "\(e)", file: file, line: line)
        XCTAssertTrue(e.description.contains(text), "'\(e.description)' does not contain '\(text)'", file: file, line: line)
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
    }
}
