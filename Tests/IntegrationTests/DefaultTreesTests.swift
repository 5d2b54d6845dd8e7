import XCTest
import Foundation
import TestSupport

/// dkms as the machine's own: no tree options. The real Debian sources are
/// placed in /usr/src/<name>-<version>, added with `dkms add -m -v`, installed
/// for every kernel with headers into /lib/modules, and removed again, inside
/// scripts/lib/isolated-trees.sh (a private mount namespace where /usr/src,
/// /var/lib/dkms, /lib/modules and /etc/dkms are the test's own: the host's
/// stay as they were). Every installed file carries its kernel's vermagic and
/// compression. Where ours installs nothing for a kernel, Debian's dkms in the
/// same kind of root must not either ("wherever the reference builds them").
final class DefaultTreesTests: XCTestCase {
    /// The six Debian modules by default; DKMS_TEST_ZFS=1 adds zfs (its configure
    /// and build take minutes per kernel, too long for every CI run).
    var modules: [(package: String, name: String, version: String)] {
        var packages = DebianModule.all.map(\.package)
        if ProcessInfo.processInfo.environment["DKMS_TEST_ZFS"] == "1" { packages.append("zfs-dkms") }
        return packages.compactMap { p in
            guard let line = try? String(contentsOfFile: "\(Repo.debianModules)/\(p)/module", encoding: .utf8) else { return nil }
            let f = line.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            return f.count == 2 ? (p, f[0], f[1]) : nil
        }
    }

    /// Built for real here (from /usr/src, through the sandbox's overlay of
    /// it) for every kernel; the others may be hits in the test run's shared
    /// build cache (DebianModulesTests fill it), whose key does not depend on
    /// where the trees are: their dkms.conf is still evaluated in the
    /// sandbox from /usr/src and the hit restored, signed and installed.
    static let builtHere = "acpi-call"

    /// Runs `script` with dkms = `binary` inside a fresh isolated root; the
    /// modules are copied into its /usr/src first.
    func isolated(_ binary: String, _ script: String, sharedCache: Bool) -> Run {
        let copy = modules.map { "cp -a \(Repo.debianModules)/\($0.package)/src /usr/src/\($0.name)-\($0.version)" }.joined(separator: "\n")
        let cache = sharedCache ? "echo cache_dir=\(TestTrees.sharedCache) > /etc/dkms/framework.conf.d/tests.conf\n" : ""
        return sh([Repo.root + "/scripts/lib/isolated-trees.sh", "/bin/bash", "-c",
                   "set -u\nD=\(binary)\n\(copy)\n\(cache)\(script)"])
    }

    /// One line per (module, kernel): "RESULT <name> <kernel> <exit status>".
    func install(_ pairs: [(module: (package: String, name: String, version: String), kernel: String)], noCache: Bool) -> String {
        var script = ""
        var added = Set<String>()
        for (m, k) in pairs {
            if added.insert(m.name).inserted {
                script += "\"$D\" add -m \(m.name) -v \(m.version) >/dev/null 2>&1 || echo \"ADD-FAILED \(m.name)\"\n"
            }
            let flags = noCache && m.name == Self.builtHere ? " --no-cache" : ""
            script += """
            "$D" install -m \(m.name) -v \(m.version) -k \(k)\(flags) > /tmp/out 2>&1; rc=$?
            echo "RESULT \(m.name) \(k) $rc"
            [ "$rc" = 0 ] || [ "$rc" = 77 ] || sed "s/^/  | /" /tmp/out | tail -n 15

            """
        }
        return script
    }

    static func results(_ out: String) -> [String: Int32] {
        var r: [String: Int32] = [:]
        for line in out.split(separator: "\n") where line.hasPrefix("RESULT ") {
            let f = line.split(separator: " ")
            if f.count == 4 { r["\(f[1]) \(f[2])"] = Int32(f[3]) }
        }
        return r
    }

    func testDebianModulesFromUsrSrcForEveryKernelWithTheDefaultTrees() throws {
        try XCTSkipUnless(getuid() == 0, "needs root for the private mount namespace")
        XCTAssertTrue(DebianModule.ensureFetched(), "fetching the Debian module sources")
        XCTAssertFalse(Kernels.all.isEmpty, "no kernel headers installed")
        let everywhere = modules.flatMap { m in Kernels.all.map { (module: m, kernel: $0) } }
        let ours = isolated(Repo.dkms, install(everywhere, noCache: true) + """

        "$D" status | sed 's/^/STATUS /'
        for f in $(find /lib/modules/*/updates/dkms -type f 2>/dev/null | sort); do
            k=${f#/lib/modules/}; k=${k%%/*}
            echo "FILE $k $f $(modinfo -F vermagic "$f" | cut -d' ' -f1)"
        done
        for m in \(modules.map(\.name).joined(separator: " ")); do
            v=$(ls /var/lib/dkms/$m | grep -v '^kernel-' | head -n1)
            "$D" remove -m "$m" -v "$v" --all >/dev/null 2>&1 || echo "REMOVE-FAILED $m"
        done
        echo "LEFT $(find /lib/modules/*/updates -type f 2>/dev/null | wc -l) $(find /var/lib/dkms -mindepth 1 -maxdepth 1 -type d ! -name '.*' | wc -l)"
        """, sharedCache: true)
        XCTAssertEqual(ours.status, 0, ours.all)
        XCTAssertFalse(ours.stdout.contains("ADD-FAILED") || ours.stdout.contains("REMOVE-FAILED"), ours.all)
        let results = Self.results(ours.stdout)
        XCTAssertEqual(results.count, modules.count * Kernels.all.count, ours.all)

        // Every installed file: its kernel's vermagic and compression; every
        // install that succeeded left files, and `status` says installed.
        let files = ours.stdout.split(separator: "\n").filter { $0.hasPrefix("FILE ") }.map { $0.split(separator: " ").map(String.init) }
        for f in files {
            XCTAssertEqual(f.count, 4, "\(f)")
            guard f.count == 4 else { continue }
            XCTAssertEqual(f[3], f[1], "vermagic of \(f[2])")
            XCTAssertTrue(f[2].hasSuffix(".ko" + Kernels.moduleSuffix(f[1])), "\(f[2]): the kernel's compression is '\(Kernels.moduleSuffix(f[1]))'")
        }
        let status = Set(ours.stdout.split(separator: "\n").filter { $0.hasPrefix("STATUS ") }.map { String($0.dropFirst(7)) })
        for m in modules {
            for k in Kernels.all where results["\(m.name) \(k)"] == 0 {
                XCTAssertTrue(status.contains("\(m.name)/\(m.version), \(k), x86_64: installed"), "\(m.name) on \(k): \(status)")
                XCTAssertTrue(files.contains { $0.count == 4 && $0[1] == k && $0[2].contains("/updates/dkms/") }, "\(m.name) on \(k)")
            }
        }
        let left = ours.stdout.split(separator: "\n").first { $0.hasPrefix("LEFT ") }
        XCTAssertEqual(left, "LEFT 0 0", "remove --all leaves no module file and no tree entry")

        // Where ours did not install, neither does the reference.
        let missed = results.filter { $0.value != 0 }
        print("[default-trees] \(results.count - missed.count) of \(results.count) installed; not installed: \(missed.keys.sorted())")
        guard !missed.isEmpty else { return }
        let reference = isolated("/usr/sbin/dkms", install(everywhere.filter { missed["\($0.module.name) \($0.kernel)"] != nil }, noCache: false),
                                 sharedCache: false)
        let theirs = Self.results(reference.stdout)
        for (pair, code) in missed {
            XCTAssertNotEqual(theirs[pair], 0, "the reference installs \(pair), ours exited \(code):\n\(ours.all)")
            if code == 77 { XCTAssertEqual(theirs[pair], 77, "\(pair): ours says BUILD_EXCLUSIVE, the reference does not") }
        }
    }

    /// HostileModuleTests again with dkms's own trees (no tree options: /usr/src,
    /// /var/lib/dkms, /lib/modules), this bundle re-run inside isolated-trees.sh. The cases
    /// take turns there (one set of trees), so by default only the attacks aimed at the trees
    /// run again (reading and writing outside, /proc walks, names, replaced outputs); the
    /// limits and the syscall filter do not depend on where the trees are.
    /// DKMS_TEST_HOSTILE_DEFAULT_TREES=all runs every case (about 7 minutes).
    func testHostileSuiteWithTheDefaultTrees() throws {
        try XCTSkipUnless(getuid() == 0, "needs root for the private mount namespace")
        let bundle = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let all = ProcessInfo.processInfo.environment["DKMS_TEST_HOSTILE_DEFAULT_TREES"] == "all"
        let treeAttacks = ["testReadingSecrets", "testWritingOutside", "testProcWalks", "testPathTraversalInNames",
                           "testOutputReplaced", "testDetectorsSeeAnUnconfinedAttack"]
        let filter = all ? "IntegrationTests.HostileModuleTests"
                         : treeAttacks.map { "IntegrationTests.HostileModuleTests/\($0)" }.joined(separator: ",")
        let r = sh([Repo.root + "/scripts/lib/isolated-trees.sh", "/usr/bin/env", "DKMS_TEST_DEFAULT_TREES=1", bundle, filter])
        print(r.all.split(separator: "\n").filter { $0.contains("error:") || $0.contains("Executed") }.joined(separator: "\n"))
        XCTAssertEqual(r.status, 0, String(r.all.suffix(6000)))
        XCTAssertTrue(r.all.contains("Executed \(all ? 13 : treeAttacks.count) tests, with 0 failures"), String(r.all.suffix(3000)))
    }
}
