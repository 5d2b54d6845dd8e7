import XCTest
@testable import ModuleTools
import TestSupport

/// Lookups scan the file's bytes; they must answer exactly as a full parse.
final class KernelConfigTests: XCTestCase {
    func testLookupAgreesWithTheFullParse() throws {
        let text = """
        CONFIG_FIRST=y
        # CONFIG_OFF is not set
        CONFIG_FOO_BAR=m
        CONFIG_FOO=y
        CONFIG_MODULE_SIG_HASH="sha256"
        CONFIG_CC_VERSION_TEXT="gcc-12 (Debian 12.2.0-14) 12.2.0"
        CONFIG_EMPTY=""
        CONFIG_TWICE=y
        CONFIG_TWICE=m
        NOT_CONFIG_X=y
        CONFIG_LAST=n
        """
        let c = KernelConfig(text: text)
        XCTAssertEqual(c["CONFIG_FIRST"], "y", "a line at the start of the file")
        XCTAssertNil(c["CONFIG_OFF"])
        XCTAssertEqual(c["CONFIG_FOO"], "y", "CONFIG_FOO_BAR is not CONFIG_FOO")
        XCTAssertEqual(c["CONFIG_FOO_BAR"], "m")
        XCTAssertEqual(c["CONFIG_MODULE_SIG_HASH"], "sha256")
        XCTAssertEqual(c.moduleSignatureHash, "sha256")
        XCTAssertEqual(c["CONFIG_CC_VERSION_TEXT"], "gcc-12 (Debian 12.2.0-14) 12.2.0")
        XCTAssertEqual(c["CONFIG_EMPTY"], "")
        XCTAssertEqual(c["CONFIG_TWICE"], "m", "the last assignment wins")
        XCTAssertEqual(c["CONFIG_LAST"], "n", "a last line without a newline")
        XCTAssertNil(c["CONFIG_X"])
        XCTAssertNil(c["X"], "NOT_CONFIG_X=y is not X")
        for (k, v) in c.values { XCTAssertEqual(c[k], v, k) }
        XCTAssertEqual(c.values.count, 8)
        XCTAssertNil(KernelConfig(text: "")["CONFIG_A"])
    }

    func testRealKernelConfigs() throws {
        XCTAssertFalse(Kernels.all.isEmpty, "no kernel headers installed")
        for k in Kernels.all {
            let c = try KernelConfig.load(path: KernelConfig.defaultPath(kernel: k))
            let all = c.values
            XCTAssertGreaterThan(all.count, 1000)
            for (name, value) in all { XCTAssertEqual(c[name], value, "\(k) \(name)") }
        }
    }
}
