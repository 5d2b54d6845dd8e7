import Foundation

/// Human-facing labels stored with a result. Never part of the key (see BuildInputs).
public struct ResultLabels: Codable, Hashable, Sendable {
    public var module: String
    public var version: String
    public var kernel: String
    public var arch: String
    public init(module: String, version: String, kernel: String, arch: String) {
        self.module = module; self.version = version; self.kernel = kernel; self.arch = arch
    }
}

/// One cached output file, as returned by `lookup` after its blob was re-verified.
public struct ResultFile: Hashable, Sendable {
    /// Path relative to the module build dir, e.g. "src/evdi.ko".
    public var relativePath: String
    public var digest: Digest
    public var size: Int64
    /// Where the verified blob is in the store (read-only; copy or hard-link it out).
    public var blobPath: String
}

/// The small per-key record (REAPI ActionResult analogue): key -> output blobs + metadata.
/// JSON because it is tiny, debuggable with `cat`, and Foundation has a strict decoder.
struct ResultRecord: Codable, Equatable {
    struct File: Codable, Equatable {
        var path: String
        var digest: String
        var size: Int64
    }
    var format: Int = 1
    var key: String
    var created: Double  // seconds since epoch
    var labels: ResultLabels
    var files: [File]
    /// CacheKey.explain() at store time, so a later miss can be compared component by component.
    var components: [String: String]?

    func encoded() throws -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return Array(try e.encode(self)) + [0x0a]
    }

    static func decode(_ bytes: [UInt8], path: String) throws -> ResultRecord {
        do { return try JSONDecoder().decode(ResultRecord.self, from: Data(bytes)) } catch {
            throw CacheError.corruptMetadata(path: path, reason: "\(error)")
        }
    }
}

/// Rejects anything that could escape the destination when a result is copied out.
enum RelativePath {
    static func validate(_ p: String) throws {
        guard !p.isEmpty, !p.hasPrefix("/"), !p.contains("\0") else { throw CacheError.invalidRelativePath(p) }
        for comp in p.split(separator: "/", omittingEmptySubsequences: false) {
            if comp.isEmpty || comp == "." || comp == ".." { throw CacheError.invalidRelativePath(p) }
        }
    }
}
