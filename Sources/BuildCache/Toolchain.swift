import Foundation
import Glibc
import SafeFS

/// One program the build runs, resolved to the file whose bytes execute.
public struct ToolBinary: Hashable, Sendable {
    /// "cc", "cc1", "as", "ld", "make", "strip", ...
    public var role: String
    /// As found (e.g. /usr/bin/gcc-12), kept for logs.
    public var path: String
    /// Symlinks resolved (e.g. /usr/bin/x86_64-linux-gnu-gcc-12); this is what is digested.
    public var resolvedPath: String
}

/// Resolves the toolchain a kernel module build uses, so its *content* can go in the key.
/// ccache's default mtime check on the driver misses cc1-only updates (cc1 lives in cpp-12 on
/// Debian), so cc1 is resolved through the driver explicitly.
public struct Toolchain: Sendable {
    public var binaries: [ToolBinary]

    public init(binaries: [ToolBinary]) { self.binaries = binaries }

    /// - Parameters:
    ///   - cc: the compiler the kernel Makefile selects (Debian: `gcc-12`), a name or a path.
    ///   - searchPath: PATH used to resolve names; default is the scrubbed build PATH.
    ///   - extra: more role -> program names (e.g. ["pahole": "pahole"]).
    public static func resolve(cc: String = "gcc-12", searchPath: String = "/usr/bin:/bin",
                               extra: [String: String] = [:]) throws -> Toolchain {
        let driver = try which(cc, searchPath)
        var out = [try binary("cc", driver)]
        // `gcc -print-prog-name=X` answers with a full path for cc1 and a bare name for as/ld
        // when they come from PATH; both cases are resolved the same way.
        for (role, prog) in [("cc1", "cc1"), ("as", "as"), ("ld", "ld")] {
            let answer = try run([driver, "-print-prog-name=\(prog)"]).trimmingCharacters(in: .whitespacesAndNewlines)
            let path = answer.hasPrefix("/") ? answer : try which(answer, searchPath)
            guard FS.exists(path, followLinks: false) else { throw CacheError.toolNotFound("\(role) (\(answer))") }
            out.append(try binary(role, path))
        }
        for (role, prog) in [("make", "make"), ("strip", "strip")] { out.append(try binary(role, try which(prog, searchPath))) }
        for (role, prog) in extra.sorted(by: { $0.key < $1.key }) { out.append(try binary(role, try which(prog, searchPath))) }
        return Toolchain(binaries: out)
    }

    /// Role -> content digest, ready for `BuildInputs.toolchain`. Memoized like any file.
    public func digests(using digester: inout FileDigester) throws -> [String: Digest] {
        var out: [String: Digest] = [:]
        for b in binaries { out[b.role] = try digester.digest(ofFile: b.resolvedPath).digest }
        return out
    }

    static func binary(_ role: String, _ path: String) throws -> ToolBinary {
        guard let real = FS.realPath(path) else { throw CacheError.toolNotFound(path) }
        return ToolBinary(role: role, path: path, resolvedPath: real)
    }

    static func which(_ name: String, _ searchPath: String) throws -> String {
        guard let p = Spawn.lookUp(name, in: searchPath.split(separator: ":").map(String.init)) else { throw CacheError.toolNotFound(name) }
        return p
    }

    /// The program's stdout (stderr discarded); any failure to start or a non-zero exit is
    /// commandFailed (status -1: it did not start).
    static func run(_ argv: [String]) throws -> String {
        var p = Spawn(argv, environment: ["PATH=/usr/bin:/bin", "LC_ALL=C"])
        p.stderr = .discard
        guard let r = try? p.run() else { throw CacheError.commandFailed(command: argv, status: -1) }
        guard r.status == 0 else { throw CacheError.commandFailed(command: argv, status: r.status) }
        return r.stdoutText
    }
}

extension Toolchain {
    /// `resolve`, remembered across runs: asking gcc for its cc1, as and ld
    /// costs three process starts per build, but the answers change only
    /// when the driver does. The memo is keyed by the driver's stat data; the
    /// binaries' digests are still taken by content on every use.
    public static func resolve(cc: String, searchPath: String = "/usr/bin:/bin", memoDirectory: String?) throws -> Toolchain {
        guard let dir = memoDirectory else { return try resolve(cc: cc, searchPath: searchPath) }
        let driver = try which(cc, searchPath)
        let key = try FileSystem.statKey(driver)
        let signature = "\(driver) \(key.dev) \(key.ino) \(key.size) \(key.mtimeNs) \(key.ctimeNs) \(searchPath)"
        let safeName = cc.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" }
        let file = "\(dir)/toolchain-\(String(safeName))"
        if let data = FS.readFile(file) {
            let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
            if lines.first == signature {
                var binaries: [ToolBinary] = []
                for l in lines.dropFirst() {
                    let f = l.split(separator: "\t", maxSplits: 2).map(String.init)
                    guard f.count == 3, FS.exists(f[2], followLinks: false) else { binaries = []; break }
                    binaries.append(ToolBinary(role: f[0], path: f[1], resolvedPath: f[2]))
                }
                if !binaries.isEmpty { return Toolchain(binaries: binaries) }
            }
        }
        let fresh = try resolve(cc: cc, searchPath: searchPath)
        let text = ([signature] + fresh.binaries.map { "\($0.role)\t\($0.path)\t\($0.resolvedPath)" }).joined(separator: "\n") + "\n"
        try? FileSystem.makeDirectories(dir)
        try? FS.writeAtomically(Array(text.utf8), to: file)
        return fresh
    }
}
