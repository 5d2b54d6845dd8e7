import XCTest
import Foundation
import TestSupport

/// `dkms status --json`: the versioned document of docs/status-json.md, checked against
/// docs/status.schema.json with a real JSON Schema validator (Debian's python3-jsonschema).
final class StatusJSONTests: XCTestCase {
    static let schema = Repo.root + "/docs/status.schema.json"

    /// An installed, a built and an added module, on every kernel with headers where it matters.
    func statusJSON(_ sb: TestTrees) throws -> (text: String, document: [String: Any]) {
        let k = Kernels.all
        XCTAssertEqual(sb.dkms("add", Repo.root + "/examples/dkms-hello-1.0").status, 0)
        XCTAssertEqual(sb.dkms("install", "dkms-hello/1.0", "-k", k[0]).status, 0)
        writeModule(at: sb.sourceTree + "/q-1", name: "q", conf: "PACKAGE_NAME=q\nPACKAGE_VERSION=1\n")
        XCTAssertEqual(sb.dkms("add", "q/1").status, 0)
        let r = sb.dkms("status", "--json")
        XCTAssertEqual(r.status, 0, r.all)
        let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        return (r.stdout, document)
    }

    func testJSONHasOneEntryPerStatusLine() throws {
        let sb = TestTrees()
        defer { sb.cleanup() }
        let k = Kernels.all
        let (_, document) = try statusJSON(sb)
        XCTAssertEqual(document["schema_version"] as? Int, 1)
        XCTAssertEqual(document["dkms_version"] as? String, sb.dkms("--version").stdout.split(separator: "\n").first.map(String.init))
        let objects = try XCTUnwrap(document["entries"] as? [[String: Any]])
        XCTAssertEqual(objects.count, sb.dkms("status").stdout.split(separator: "\n").count)
        let hello = try XCTUnwrap(objects.first { $0["module"] as? String == "dkms-hello" })
        XCTAssertEqual(hello["state"] as? String, "installed")
        XCTAssertEqual(hello["kernel"] as? String, k[0])
        let modules = try XCTUnwrap(hello["modules"] as? [[String: Any]])
        let suffix = Kernels.moduleSuffix(k[0])
        XCTAssertEqual(modules.first?["installed_path"] as? String, "\(sb.installTree)/\(k[0])/updates/dkms/dkms_hello.ko\(suffix)")
        XCTAssertEqual(modules.first?["compression"] as? String, ["": "none", ".xz": "xz", ".zst": "zstd", ".gz": "gzip"][suffix] ?? "?")
        let q = try XCTUnwrap(objects.first { $0["module"] as? String == "q" })
        XCTAssertEqual(q["state"] as? String, "added")
        XCTAssertTrue(q["kernel"] is NSNull)
    }

    /// The output validates against the published schema, and the schema rejects what it must
    /// (so the validation can fail): a wrong version, an unknown state, a built entry without kernel.
    func testOutputValidatesAgainstThePublishedSchema() throws {
        let sb = TestTrees()
        defer { sb.cleanup() }
        let (text, _) = try statusJSON(sb)
        XCTAssertEqual(validate(text, in: sb).status, 0, validate(text, in: sb).all)
        for (bad, why) in [
            (text.replacingOccurrences(of: "\"schema_version\": 1", with: "\"schema_version\": 2"), "schema version"),
            (text.replacingOccurrences(of: "\"state\": \"installed\"", with: "\"state\": \"broken\""), "state"),
            (text.replacingOccurrences(of: "\"state\": \"added\"", with: "\"state\": \"built\""), "built without kernel"),
        ] {
            XCTAssertNotEqual(bad, text, why)
            XCTAssertNotEqual(validate(bad, in: sb).status, 0, "the schema accepted a document with a wrong \(why)")
        }
    }

    /// Every field the output has is described in docs/status-json.md.
    func testEveryFieldIsDocumented() throws {
        let sb = TestTrees()
        defer { sb.cleanup() }
        let (_, document) = try statusJSON(sb)
        let doc = try String(contentsOfFile: Repo.root + "/docs/status-json.md", encoding: .utf8)
        var keys = Set(document.keys)
        for e in document["entries"] as? [[String: Any]] ?? [] {
            keys.formUnion(e.keys)
            for m in e["modules"] as? [[String: Any]] ?? [] { keys.formUnion(m.keys) }
            if let c = e["cache"] as? [String: Any] { keys.formUnion(c.keys) }
        }
        XCTAssertTrue(keys.contains("modules"))
        for k in keys { XCTAssertTrue(doc.contains("`\(k)`"), "docs/status-json.md does not describe \(k)") }
    }

    func validate(_ text: String, in sb: TestTrees) -> Run {
        let file = sb.base + "/status.json"
        FileManager.default.createFile(atPath: file, contents: Data(text.utf8))
        let script = "import json, sys, jsonschema\njsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))"
        return sh(["/usr/bin/python3", "-c", script, file, StatusJSONTests.schema])
    }
}
