import Foundation
import XCTest
@testable import Installer
#if canImport(Glibc)
import Glibc
import SafeFS
import TestSupport
#endif

/// Shared plumbing for the tests: temporary trees (never the host's /lib/modules
/// or /var/lib/dkms), the crash helper child process, snapshots.
enum InstallerFixture {
    /// Only a directory name here: transactions never read a kernel's headers, so the
    /// tests need none installed (the module tools' tests use the real ones).
    static let kernel = "no-such-kernel-transaction-test"
    static let arch = "x86_64"

    static func makeTempDir(_ tag: String = "inst") -> String { TestSupport.makeTempDir("installer-test-\(tag)") }

    static func removeTree(_ path: String) { try? FS.removeTreeReporting(path) }

    // MARK: files

    static func write(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) { TestSupport.write(path, bytes, mode: mode) }

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
        func kernelDir(_ k: String = InstallerFixture.kernel) -> String { install + "/" + k }
        func built(_ m: String, _ v: String, _ k: String = InstallerFixture.kernel) -> String {
            "\(dkms)/\(m)/\(v)/\(k)/\(InstallerFixture.arch)/module"
        }
        func originalModuleDirectory(_ m: String, _ k: String = InstallerFixture.kernel) -> String {
            "\(dkms)/\(m)/original_module/\(k)/\(InstallerFixture.arch)"
        }
        /// The version the `kernel-<k>-<arch>` marker link names.
        func installedVersion(_ m: String, _ k: String = InstallerFixture.kernel) -> String? {
            FS.readLink("\(dkms)/\(m)/kernel-\(k)-\(InstallerFixture.arch)")?.split(separator: "/").first.map(String.init)
        }
        func builtModules(_ m: String, _ v: String, _ k: String = InstallerFixture.kernel) -> [String] {
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
        ProcessInfo.processInfo.environment["INSTALLER_CRASH_HELPER"] ?? Repo.product("installer-crash-helper")
    }

    static func runHelper(_ args: [String], env: [String: String] = [:]) -> Run {
        sh([helperPath] + args, env: env, unset: ["DKMS_FAULT_KILL_AT", "DKMS_FAULT_LIST"])
    }

    /// A tool from PATH (mount, cp, chattr), its output captured.
    static func run(_ tool: String, _ args: [String]) -> Run { sh([tool] + args) }

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

extension Run {
    var killedBySIGKILL: Bool { signal == SIGKILL }
}
