import XCTest
import Foundation
import TestSupport

/// DKMSCore's folders are floors: a file may name the types of its own folder and of the
/// folders below it, never of one above (the README's map). Checked on the source text:
/// the types each folder declares at the top level, then every other folder's files, comments
/// left out (a type nested under the same name, like ConfEvaluator.Context, is the file's own).
final class FolderLayersTests: XCTestCase {
    static let bottomUp = ["Support", "Kernel", "Tree", "Config", "Run", "Build", "Cache", "Maintenance",
                           "Sandboxing", "Steps", "Actions", "CommandLine"]

    func testFoldersImportDownwardOnly() throws {
        let root = Repo.root + "/Sources/DKMSCore"
        let folders = try FileManager.default.contentsOfDirectory(atPath: root).filter { !$0.hasPrefix(".") }.sorted()
        XCTAssertEqual(Set(folders), Set(Self.bottomUp), "every folder has its place in the order")
        func files(_ folder: String) -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: root + "/" + folder)) ?? [])
                .filter { $0.hasSuffix(".swift") }.map { read(root + "/" + folder + "/" + $0) }
        }
        let declaration = try NSRegularExpression(pattern: #"^(?:public |internal )?(?:final )?(?:struct|enum|class|protocol|typealias) ([A-Z][A-Za-z0-9]+)"#,
                                                  options: .anchorsMatchLines)
        var owner: [String: String] = [:]
        for folder in folders {
            for text in files(folder) {
                let ns = text as NSString
                for m in declaration.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
                    owner[ns.substring(with: m.range(at: 1))] = folder
                }
            }
        }
        XCTAssertTrue(owner["Engine"] == "Actions" && owner["DKMSError"] == "Support", "the declarations were found")
        let nested = try NSRegularExpression(pattern: #"^\s+(?:public |internal )?(?:final )?(?:struct|enum|class|protocol|typealias) ([A-Z][A-Za-z0-9]+)"#,
                                             options: .anchorsMatchLines)
        var upward: [String] = []
        for folder in folders {
            let level = Self.bottomUp.firstIndex(of: folder)!
            for text in files(folder) {
                let code = text.replacingOccurrences(of: "//[^\n]*", with: "", options: .regularExpression)
                let ns = code as NSString
                let own = Set(nested.matches(in: code, range: NSRange(location: 0, length: ns.length)).map { ns.substring(with: $0.range(at: 1)) })
                for (type, home) in owner where Self.bottomUp.firstIndex(of: home)! > level && !own.contains(type) {
                    if code.range(of: "\\b\(type)\\b", options: .regularExpression) != nil { upward.append("\(folder) names \(home)'s \(type)") }
                }
            }
        }
        XCTAssertEqual(Set(upward).sorted(), [], "a folder names a type of a folder above it")
    }
}
