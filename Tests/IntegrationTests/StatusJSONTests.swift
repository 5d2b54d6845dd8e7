import XCTest
import Foundation

final class StatusJSONTests: XCTestCase {
    func testJSONHasOneObjectPerStatusLine() throws {
        let sb = TestTrees()
        defer { sb.cleanup() }
        let k = Kernels.all
        XCTAssertEqual(sb.dkms("add", Repo.root + "/examples/dkms-hello-1.0").status, 0)
        XCTAssertEqual(sb.dkms("install", "dkms-hello/1.0", "-k", k[0]).status, 0)
        writeModule(at: sb.sourceTree + "/q-1", name: "q", conf: "PACKAGE_NAME=q\nPACKAGE_VERSION=1\n")
        XCTAssertEqual(sb.dkms("add", "q/1").status, 0)
        let r = sb.dkms("status", "--json")
        XCTAssertEqual(r.status, 0, r.all)
        let objects = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(objects.count, sb.dkms("status").stdout.split(separator: "\n").count)
        let hello = try XCTUnwrap(objects.first { $0["module"] as? String == "dkms-hello" })
        XCTAssertEqual(hello["state"] as? String, "installed")
        XCTAssertEqual(hello["kernel"] as? String, k[0])
        let modules = try XCTUnwrap(hello["modules"] as? [[String: Any]])
        XCTAssertEqual(modules.first?["installed_path"] as? String, "\(sb.installTree)/\(k[0])/updates/dkms/dkms_hello.ko")
        XCTAssertEqual(modules.first?["compression"] as? String, "none")
        let q = try XCTUnwrap(objects.first { $0["module"] as? String == "q" })
        XCTAssertEqual(q["state"] as? String, "added")
        XCTAssertTrue(q["kernel"] is NSNull)
    }
}
