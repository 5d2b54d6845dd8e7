import Foundation
import XCTest
@testable import Installer
#if canImport(Glibc)
import Glibc
import SafeFS
#endif

/// Shared plumbing for the tests: temporary trees (never the host's /lib/modules
/// or /var/lib/dkms), the crash helper child process, snapshots.
enum TestSupport {
    /// Only a directory name here: transactions never read a kernel's headers, so the
    /// tests need none installed (the module tools' tests use the real ones).
    static let kernel = "6.1.0-98-test"
    static let arch = "x86_64"

    static func makeTempDir(_ tag: String = "inst") -> String {
        var template = Array("/tmp/installer-test-\(tag)-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(p != nil, "mkdtemp failed")
        return String(cString: p!)
    }

    static func removeTree(_ path: String) { try? FS.removeTreeReporting(path) }

    // MARK: files

    static func write(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) {
        for d in FS.missingDirectories(FS.parent(path)) { try! FS.makeDirectory(d) }
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: Int(mode)])
    }

    static func write(_ path: String, _ text: String) { write(path, Array(text.utf8)) }

    static func bytes(_ path: String) -> [UInt8]? { try? FS.readFileReporting(path) }

    /// Deterministic pseudo-random content so "byte-equal" checks mean something.
    static func payload(seed: UInt64, size: Int) -> [UInt8] {
        var s = seed &* 6364136223846793005 &+ 1442695040888963407
        return (0..<size).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: s >> 33)
        }
    }

    // MARK: trees

    struct Trees {
        var root: String
        var dkms: String { root + "/dkms" }
        var base: String { root + "/base" }
        var install: String { base + "/lib/modules" }
        func kernelDir(_ k: String = TestSupport.kernel) -> String { install + "/" + k }
        func built(_ m: String, _ v: String, _ k: String = TestSupport.kernel) -> String {
            "\(dkms)/\(m)/\(v)/\(k)/\(TestSupport.arch)/module"
        }
        func originalModuleDirectory(_ m: String, _ k: String = TestSupport.kernel) -> String {
            "\(dkms)/\(m)/original_module/\(k)/\(TestSupport.arch)"
        }
        /// The version the `kernel-<k>-<arch>` marker link names.
        func installedVersion(_ m: String, _ k: String = TestSupport.kernel) -> String? {
            FS.readLink("\(dkms)/\(m)/kernel-\(k)-\(TestSupport.arch)")?.split(separator: "/").first.map(String.init)
        }
        func builtModules(_ m: String, _ v: String, _ k: String = TestSupport.kernel) -> [String] {
            FS.listDirectory(built(m, v, k)).filter { $0.contains(".ko") }.map { built(m, v, k) + "/" + $0 }
        }
    }

    /// dkms tree + `<base>/lib/modules/<k>` with the given built modules.
    static func makeTrees(root: String, kernels: [String] = [kernel],
                          modules: [(module: String, version: String, files: [(String, [UInt8])])]) -> Trees {
        let t = Trees(root: root)
        for k in kernels { try! FileManager.default.createDirectory(atPath: t.kernelDir(k), withIntermediateDirectories: true) }
        try! FileManager.default.createDirectory(atPath: t.dkms, withIntermediateDirectories: true)
        for (m, v, files) in modules {
            for k in kernels {
                for (name, content) in files { write(t.built(m, v, k) + "/" + name, content) }
            }
        }
        return t
    }

    // MARK: snapshot

    /// relative path -> "F <mode> <bytes hash>" | "L <target>" | "D"; lock file and the
    /// (empty) journal/staging directories are bookkeeping, not state.
    static func snapshot(_ root: String) -> [String: String] {
        var out: [String: String] = [:]
        func walk(_ dir: String, _ rel: String) {
            for name in FS.listDirectory(dir) {
                let p = dir + "/" + name, r = rel.isEmpty ? name : rel + "/" + name
                switch FS.kind(p) {
                case .directory?:
                    if !(name == ".journal" || name == ".staging") || !FS.listDirectory(p).isEmpty { out[r] = "D" }
                    walk(p, r)
                case .symlink?: out[r] = "L " + (FS.readLink(p) ?? "?")
                case .file?:
                    if name == ".dkms.lock" { continue }
                    let b = bytes(p) ?? []
                    out[r] = "F \(String(FS.mode(p) ?? 0, radix: 8)) \(b.count) \(hash(b))"
                default: out[r] = "?"
                }
            }
        }
        walk(root, "")
        return out
    }

    static func hash(_ b: [UInt8]) -> UInt64 {
        var h: UInt64 = 0xcbf29ce484222325
        for x in b { h ^= UInt64(x); h = h &* 0x100000001b3 }
        return h
    }

    static func describeDiff(_ a: [String: String], _ b: [String: String]) -> String {
        let keys = Set(a.keys).union(b.keys).sorted()
        return keys.filter { a[$0] != b[$0] }.map { "\($0): \(a[$0] ?? "-") vs \(b[$0] ?? "-")" }.joined(separator: "\n")
    }

    /// Temp/aside files and journals must never survive recovery.
    static func leftovers(_ root: String) -> [String] {
        snapshot(root).keys.filter {
            $0.contains(".dkms-tmp-") || $0.contains(".dkms-old-") || $0.hasSuffix(".journal") || $0.contains(".staging/")
        }.sorted()
    }

    // MARK: the crash helper

    static var helperPath: String {
        if let env = ProcessInfo.processInfo.environment["INSTALLER_CRASH_HELPER"] { return env }
        var candidates: [String] = []
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().path + "/installer-crash-helper")
        candidates.append(Bundle.main.bundleURL.path + "/installer-crash-helper")
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path + "/installer-crash-helper")
        let pkg = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(pkg.path + "/.build/debug/installer-crash-helper")
        for c in candidates where FileManager.default.isExecutableFile(atPath: c) { return c }
        fatalError("installer-crash-helper not found; tried \(candidates)")
    }

    struct Run {
        var status: Int32
        var signaled: Bool
        var stdout: String
        var stderr: String
        var killedBySIGKILL: Bool { signaled && status == SIGKILL }
    }

    static func runHelper(_ args: [String], env: [String: String] = [:]) -> Run {
        spawn(helperPath, args, env: env)
    }

    /// A tool from PATH (mount, cp, chattr), its output captured.
    static func run(_ tool: String, _ args: [String]) -> Run { spawn("/usr/bin/env", [tool] + args) }

    static func spawn(_ executable: String, _ args: [String], env: [String: String] = [:]) -> Run {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        var e = ProcessInfo.processInfo.environment
        e.removeValue(forKey: "DKMS_FAULT_KILL_AT")
        e.removeValue(forKey: "DKMS_FAULT_LIST")
        for (k, v) in env { e[k] = v }
        p.environment = e
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try! p.run()
        let group = DispatchGroup()
        let errBox = Box()
        group.enter()
        DispatchQueue.global().async { errBox.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, signaled: p.terminationReason == .uncaughtSignal,
                   stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: errBox.data, as: UTF8.self))
    }

    final class Box: @unchecked Sendable { var data = Data() }

    static func faultPoints(in run: Run) -> Int? {
        run.stdout.split(separator: "\n").last { $0.hasPrefix("fault-points: ") }
            .flatMap { Int($0.dropFirst("fault-points: ".count)) }
    }

    static func treeArgs(_ t: Trees, _ m: String, _ v: String, kernels: [String] = [kernel]) -> [String] {
        ["--dkms-tree", t.dkms, "--install-tree", t.install, "-m", m, "-v", v, "-a", arch]
            + kernels.flatMap { ["-k", $0] }
    }

    static func isRoot() -> Bool { getuid() == 0 }
}
