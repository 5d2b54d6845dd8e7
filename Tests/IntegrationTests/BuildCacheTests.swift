import XCTest
import Foundation
import TestSupport

/// The cache through the real binary: hits for identical inputs (whatever
/// the inodes), misses for any changed input, corruption detected, and one
/// build for concurrent requests.
final class BuildCacheIntegrationTests: XCTestCase {
    var sb: TestTrees!
    override func setUp() { sb = TestTrees(sharedCache: false) }
    override func tearDown() { sb.cleanup() }

    func cacheLine(_ r: Run) -> String {
        r.stdout.split(separator: "\n").first { $0.hasPrefix("Build cache: ") }.map(String.init) ?? "no cache line in: \(r.all)"
    }

    /// A private copy of a kernel's headers (links dereferenced), so a test
    /// can change header content or inodes without touching the host's.
    func copyHeaders(_ k: String, to dir: String) {
        let r = sh(["cp", "-rL", "/lib/modules/\(k)/build", dir])
        XCTAssertEqual(r.status, 0, r.all)
    }

    func installed(_ k: String, _ name: String) -> String { "\(sb.installTree)/\(k)/updates/dkms/\(name).ko" }

    /// A pure dkms.conf is evaluated in the sandbox once per kernel and
    /// file content, then replayed; `cache clear` drops the replays too.
    func testPureConfEvaluationsAreReplayedAndCleared() throws {
        let k = Kernels.all[0]
        let evals = sb.dkmsTree + "/.cache/conf-evals"
        XCTAssertEqual(sb.dkms("add", Repo.root + "/examples/dkms-hello-1.0").status, 0)
        XCTAssertEqual(sb.dkms("install", "dkms-hello/1.0", "-k", k).status, 0)
        let kept = (try? FileManager.default.contentsOfDirectory(atPath: evals)) ?? []
        XCTAssertFalse(kept.isEmpty, "the add's and the build's evaluations are kept")
        // Replayed: the sandbox's scratch area sees no new conf- directory and the entries stay as they were.
        let before = sh(["sh", "-c", "ls -l --time-style=full-iso \(evals)"]).stdout
        XCTAssertEqual(sb.dkms("remove", "dkms-hello/1.0", "--all").status, 0)
        XCTAssertEqual(sb.dkms("add", "dkms-hello/1.0").status, 0)
        XCTAssertEqual(sb.dkms("install", "dkms-hello/1.0", "-k", k).status, 0)
        XCTAssertEqual(sh(["sh", "-c", "ls -l --time-style=full-iso \(evals)"]).stdout, before)
        // A changed file is another evaluation.
        let conf = sb.sourceTree + "/dkms-hello-1.0/dkms.conf"
        let text = try String(contentsOfFile: conf)
        try (text + "# edited\n").write(toFile: conf, atomically: true, encoding: .utf8)
        XCTAssertEqual(sb.dkms("remove", "dkms-hello/1.0", "--all").status, 0)
        XCTAssertEqual(sb.dkms("install", "dkms-hello/1.0", "-k", k).status, 0)
        let now = (try? FileManager.default.contentsOfDirectory(atPath: evals)) ?? []
        XCTAssertGreaterThan(now.count, kept.count, "the edited file was evaluated again: \(now)")
        let r = sb.dkms("cache", "clear")
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(r.stdout.contains("and \(now.count) replayable dkms.conf evaluation(s)."), r.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: evals))
    }

    /// A dkms.conf that only looks at the kernel's configuration (as ddcci's and
    /// v4l2loopback's do) is evaluated once per file and kernel tree, then replayed
    /// by the installs that digest that tree anyway; another kernel is evaluated.
    func testKernelDependentConfEvaluationsAreReplayed() throws {
        let evals = sb.dkmsTree + "/.cache/conf-evals"
        writeModule(at: sb.sourceTree + "/kdep-1.0", name: "kdep", conf: """
        PACKAGE_NAME=kdep
        PACKAGE_VERSION=1.0
        BUILT_MODULE_NAME[0]=kdep
        DEST_MODULE_LOCATION[0]=/updates/dkms
        if ! grep -q "^CONFIG_MODULES=y$" "$kernel_source_dir/.config" 2>/dev/null; then
            echo "no module support in this kernel" >&2
            BUILD_EXCLUSIVE_ARCH="^do_not_build$"
        fi
        """)
        let listing = { sh(["sh", "-c", "ls -l --time-style=full-iso \(evals)"]).stdout }
        var r = sb.dkms("--verbose", "install", "kdep/1.0", "-k", Kernels.all[0])
        XCTAssertEqual(r.status, 0, r.all)
        let first = listing()
        XCTAssertTrue(first.contains("\n-"), "the evaluation is kept: \(first)")
        XCTAssertEqual(sb.dkms("remove", "kdep/1.0", "--all").status, 0)
        r = sb.dkms("--verbose", "install", "kdep/1.0", "-k", Kernels.all[0])
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(r.stdout.contains("Build cache: hit"), r.all)
        XCTAssertEqual(listing(), first, "replayed: no new evaluation kept")
        // Another kernel's tree is other content: evaluated and kept as well
        // (where the machine has a second kernel with headers).
        if let other = Kernels.all.dropFirst().first {
            r = sb.dkms("--verbose", "install", "kdep/1.0", "-k", other)
            XCTAssertEqual(r.status, 0, r.all)
            XCTAssertNotEqual(listing(), first)
        }
    }

    /// Uninstall runs POST_REMOVE as the build's evaluation set it, without
    /// evaluating dkms.conf again while the file and its overrides are
    /// unchanged; an edited dkms.conf, a new override or a manifest without
    /// the record (an older tree) is evaluated again, and its value counts.
    func testUninstallTakesPostRemoveFromTheBuildUnlessTheConfChanged() throws {
        let k = Kernels.all[0]
        let src = sb.sourceTree + "/noisy-1.0"
        // `echo` makes the file impure: every evaluation runs and says so.
        let conf = """
        PACKAGE_NAME=noisy
        PACKAGE_VERSION=1.0
        BUILT_MODULE_NAME[0]=noisy
        DEST_MODULE_LOCATION[0]=/updates/dkms
        POST_REMOVE="post-remove.sh first"
        echo "noisy: dkms.conf evaluated" >&2
        """
        writeModule(at: src, name: "noisy", conf: conf,
                    extraFiles: ["post-remove.sh": "#!/bin/sh\necho \"post-remove ran: $1\"\n"])
        XCTAssertEqual(chmod(src + "/post-remove.sh", 0o755), 0)
        let evaluated = "noisy: dkms.conf evaluated"
        var r = sb.dkms("install", "noisy/1.0", "-k", k)
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(r.all.contains(evaluated), r.all)

        r = sb.dkms("uninstall", "noisy/1.0", "-k", k)
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(r.stdout.contains("post-remove ran: first"), r.all)
        XCTAssertFalse(r.all.contains(evaluated), "unchanged dkms.conf evaluated again: \(r.all)")

        // Edited: evaluated again, and the new value runs.
        XCTAssertEqual(sb.dkms("install", "noisy/1.0", "-k", k).status, 0)
        try conf.replacingOccurrences(of: "post-remove.sh first", with: "post-remove.sh edited")
            .write(toFile: src + "/dkms.conf", atomically: true, encoding: .utf8)
        r = sb.dkms("uninstall", "noisy/1.0", "-k", k)
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(r.all.contains(evaluated), r.all)
        XCTAssertTrue(r.stdout.contains("post-remove ran: edited"), r.all)

        // An override file appearing in the config dir counts as a change.
        XCTAssertEqual(sb.dkms("install", "noisy/1.0", "-k", k).status, 0)
        try FileManager.default.createDirectory(atPath: sb.configDir, withIntermediateDirectories: true)
        try "POST_REMOVE=\"post-remove.sh override\"\n".write(toFile: sb.configDir + "/noisy.conf", atomically: true, encoding: .utf8)
        r = sb.dkms("remove", "noisy/1.0", "-k", k)
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(r.stdout.contains("post-remove ran: override"), r.all)
        try FileManager.default.removeItem(atPath: sb.configDir + "/noisy.conf")

        // A manifest without the record, as older trees have: evaluated.
        XCTAssertEqual(sb.dkms("install", "noisy/1.0", "-k", k).status, 0)
        let arch = sh(["uname", "-m"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let manifest = "\(sb.dkmsTree)/noisy/1.0/\(k)/\(arch)/log/dkms-swift.manifest"
        let text = try String(contentsOfFile: manifest)
        XCTAssertTrue(text.contains("postremove\t"), text)
        try text.split(separator: "\n").filter { !$0.hasPrefix("postremove\t") }.map { $0 + "\n" }.joined()
            .write(toFile: manifest, atomically: true, encoding: .utf8)
        r = sb.dkms("remove", "noisy/1.0", "--all")
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(r.all.contains(evaluated), r.all)
        XCTAssertTrue(r.stdout.contains("post-remove ran: edited"), r.all)
    }

    func testIdenticalInputsHitAndInstallIdenticalBytes() throws {
        let k = Kernels.all[0]
        XCTAssertEqual(sb.dkms("add", Repo.root + "/examples/dkms-hello-1.0").status, 0)
        let first = sb.dkms("--verbose", "install", "dkms-hello/1.0", "-k", k)
        XCTAssertEqual(first.status, 0, first.all)
        XCTAssertTrue(cacheLine(first).hasPrefix("Build cache: miss "), first.stdout)
        let bytes = sha256(installed(k, "dkms_hello"))

        // remove + re-add of the same version is a hit with the same key.
        XCTAssertEqual(sb.dkms("remove", "dkms-hello/1.0", "--all").status, 0)
        XCTAssertEqual(sb.dkms("add", "dkms-hello/1.0").status, 0)
        let second = sb.dkms("--verbose", "install", "dkms-hello/1.0", "-k", k)
        XCTAssertEqual(second.status, 0, second.all)
        XCTAssertEqual(cacheLine(second), cacheLine(first).replacingOccurrences(of: "miss", with: "hit"))
        // A hit prints the build's progress lines, as upstream's output has them, but compiles nothing.
        let hitLog = (try? String(contentsOfFile: "\(sb.dkmsTree)/dkms-hello/1.0/\(k)/x86_64/log/make.log", encoding: .utf8)) ?? ""
        XCTAssertTrue(hitLog.contains("Restored from the build cache"), hitLog)
        XCTAssertEqual(sha256(installed(k, "dkms_hello")), bytes)
        XCTAssertTrue(modinfo("vermagic", installed(k, "dkms_hello")).hasPrefix(k + " "))

        // --no-cache builds, and gives the same bytes.
        XCTAssertEqual(sb.dkms("remove", "dkms-hello/1.0", "--all").status, 0)
        XCTAssertEqual(sb.dkms("add", "dkms-hello/1.0").status, 0)
        let nocache = sb.dkms("install", "dkms-hello/1.0", "-k", k, "--no-cache")
        XCTAssertFalse(nocache.stdout.contains("Build cache:"))
        XCTAssertTrue(nocache.stdout.contains("Building module(s)... done."))
        XCTAssertEqual(sha256(installed(k, "dkms_hello")), bytes)
    }

    func testReinstalledHeadersHitChangedHeaderMisses() throws {
        let k = Kernels.all[0]
        let headers = sb.base + "/headers"
        copyHeaders(k, to: headers)
        XCTAssertEqual(sb.dkms("add", Repo.root + "/examples/dkms-hello-1.0").status, 0)
        let first = sb.dkms("--verbose", "build", "dkms-hello/1.0", "-k", k, "--kernelsourcedir", headers)
        XCTAssertEqual(first.status, 0, first.all)
        XCTAssertTrue(cacheLine(first).contains("miss"))

        // A package reinstall: same content and path, every inode and ctime new.
        XCTAssertEqual(sh(["mv", headers, headers + ".old"]).status, 0)
        XCTAssertEqual(sh(["cp", "-r", headers + ".old", headers]).status, 0)
        XCTAssertEqual(sh(["rm", "-rf", headers + ".old"]).status, 0)
        XCTAssertEqual(sb.dkms("unbuild", "dkms-hello/1.0", "-k", k).status, 0)
        let again = sb.dkms("--verbose", "build", "dkms-hello/1.0", "-k", k, "--kernelsourcedir", headers)
        XCTAssertEqual(cacheLine(again), cacheLine(first).replacingOccurrences(of: "miss", with: "hit"), again.all)

        // A header changed under the same release name: a miss.
        let header = headers + "/include/generated/autoconf.h"
        let text = try String(contentsOfFile: header)
        try (text + "/* rebuilt upload */\n").write(toFile: header, atomically: false, encoding: .utf8)
        XCTAssertEqual(sb.dkms("unbuild", "dkms-hello/1.0", "-k", k).status, 0)
        let changed = sb.dkms("--verbose", "build", "dkms-hello/1.0", "-k", k, "--kernelsourcedir", headers)
        XCTAssertEqual(changed.status, 0, changed.all)
        XCTAssertTrue(cacheLine(changed).contains("miss"), changed.stdout)
        XCTAssertNotEqual(cacheLine(changed).suffix(12), cacheLine(first).suffix(12))
    }

    func testChangedPatchAndMakeMiss() throws {
        let k = Kernels.all[0]
        let src = sb.sourceTree + "/keyed-1"
        writeModule(at: src, name: "keyed", conf: "PACKAGE_NAME=keyed\nPACKAGE_VERSION=1\nPATCH[0]=desc.patch\n", extraFiles: [
            "patches/desc.patch": "--- a/keyed.c\n+++ b/keyed.c\n@@ -6 +6,2 @@\n MODULE_LICENSE(\"GPL\");\n+MODULE_DESCRIPTION(\"one\");\n",
        ])
        XCTAssertEqual(sb.dkms("add", "keyed/1").status, 0)
        var keys: Set<String> = []
        func build(_ label: String) {
            _ = sb.dkms("unbuild", "keyed/1", "-k", k)
            let r = sb.dkms("--verbose", "build", "keyed/1", "-k", k)
            XCTAssertEqual(r.status, 0, "\(label): \(r.all)")
            XCTAssertTrue(cacheLine(r).contains("miss"), "\(label) must miss: \(r.stdout)")
            keys.insert(String(cacheLine(r).suffix(12)))
        }
        build("first build")
        try "--- a/keyed.c\n+++ b/keyed.c\n@@ -6 +6,2 @@\n MODULE_LICENSE(\"GPL\");\n+MODULE_DESCRIPTION(\"two\");\n"
            .write(toFile: src + "/patches/desc.patch", atomically: true, encoding: .utf8)
        build("changed patch")
        XCTAssertEqual(modinfo("description", "\(sb.dkmsTree)/keyed/1/\(k)/x86_64/module/keyed.ko"), "two")
        let conf = try String(contentsOfFile: src + "/dkms.conf")
        try (conf + "MAKE[0]=\"make -C $kernel_source_dir M=$dkms_tree/keyed/1/build modules KCFLAGS_EXTRA=1\"\n")
            .write(toFile: src + "/dkms.conf", atomically: true, encoding: .utf8)
        build("changed MAKE")
        XCTAssertEqual(keys.count, 3)
    }

    func testCorruptedBlobIsDetectedAndRebuilt() throws {
        let k = Kernels.all[0]
        XCTAssertEqual(sb.dkms("add", Repo.root + "/examples/dkms-hello-1.0").status, 0)
        XCTAssertEqual(sb.dkms("build", "dkms-hello/1.0", "-k", k).status, 0)
        let good = sha256("\(sb.dkmsTree)/dkms-hello/1.0/\(k)/x86_64/module/dkms_hello.ko")
        let blobs = sh(["find", sb.dkmsTree + "/.cache/blobs", "-type", "f"]).stdout.split(separator: "\n").map(String.init)
        XCTAssertFalse(blobs.isEmpty)
        for b in blobs {
            let h = try FileHandle(forUpdating: URL(fileURLWithPath: b))
            try h.seek(toOffset: 100)
            h.write(Data([0xde, 0xad, 0xbe, 0xef]))
            try h.close()
        }
        XCTAssertEqual(sb.dkms("unbuild", "dkms-hello/1.0", "-k", k).status, 0)
        let r = sb.dkms("--verbose", "build", "dkms-hello/1.0", "-k", k)
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(cacheLine(r).contains("miss"), "a corrupt entry is a miss: \(r.stdout)")
        XCTAssertEqual(sha256("\(sb.dkmsTree)/dkms-hello/1.0/\(k)/x86_64/module/dkms_hello.ko"), good)
        let stats = sb.dkms("cache", "stats").stdout
        XCTAssertTrue(stats.contains("corrupt entries dropped ") && !stats.contains("corrupt entries dropped 0"), stats)
        XCTAssertTrue(sb.dkms("cache", "verify").stdout.contains("0 corrupt"))
    }

    func testConcurrentInstallsOfTheSameModuleBuildOnce() throws {
        let k = Kernels.all[0]
        let other = TestTrees(sharedCache: false)
        defer { other.cleanup() }
        let shared = sb.base + "/shared-cache"
        for t in [sb!, other] {
            try "cache_dir=\(shared)\n".write(toFile: t.configDir + "/framework.conf", atomically: true, encoding: .utf8)
            XCTAssertEqual(t.dkms("add", Repo.root + "/examples/dkms-hello-1.0").status, 0)
        }
        var results: [Run] = []
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            let r = (i == 0 ? sb! : other).dkms("--verbose", "install", "dkms-hello/1.0", "-k", k)
            lock.lock(); results.append(r); lock.unlock()
        }
        XCTAssertEqual(results.map(\.status), [0, 0], results.map(\.all).joined())
        let lines = results.map { cacheLine($0) }.sorted()
        XCTAssertTrue(lines[0].hasPrefix("Build cache: hit"), "\(lines)")
        XCTAssertTrue(lines[1].hasPrefix("Build cache: miss"), "\(lines)")
        XCTAssertEqual(lines[0].suffix(12), lines[1].suffix(12))
        // One compiled, the other restored: the make.log says which.
        let logs = [sb!, other].map { (try? String(contentsOfFile: "\($0.dkmsTree)/dkms-hello/1.0/\(k)/x86_64/log/make.log", encoding: .utf8)) ?? "" }
        XCTAssertEqual(logs.filter { $0.contains("Restored from the build cache") }.count, 1, logs.joined())
        XCTAssertEqual(unsignedSHA256(installed(k, "dkms_hello")), unsignedSHA256("\(other.installTree)/\(k)/updates/dkms/dkms_hello.ko"))
    }

    func testPruneKeepsWhatInstalledModulesNeed() throws {
        let k = Kernels.all[0]
        XCTAssertEqual(sb.dkms("add", Repo.root + "/examples/dkms-hello-1.0").status, 0)
        XCTAssertEqual(sb.dkms("install", "dkms-hello/1.0", "-k", k).status, 0)
        // The build (pinned by the installed module) and its signature (not pinned).
        XCTAssertTrue(sb.dkms("cache", "stats").stdout.contains("entries 2,"))
        let pruned = sb.dkms("cache", "prune", "0")
        XCTAssertEqual(pruned.status, 0, pruned.all)
        XCTAssertTrue(pruned.stdout.contains("Pruned 1 entr"), pruned.stdout)
        XCTAssertTrue(sb.dkms("cache", "stats").stdout.contains("entries 1,"), "the installed module's build stays")
        XCTAssertEqual(sb.dkms("uninstall", "dkms-hello/1.0", "-k", k).status, 0)
        XCTAssertTrue(sb.dkms("cache", "prune", "0").stdout.contains("Pruned 1 entr"))
        XCTAssertTrue(sb.dkms("cache", "stats").stdout.contains("entries 0,"))
    }

    func testVerifyRebuildsAndComparesDigests() throws {
        let k = Kernels.all[0]
        XCTAssertEqual(sb.dkms("add", Repo.root + "/examples/dkms-hello-1.0").status, 0)
        XCTAssertEqual(sb.dkms("build", "dkms-hello/1.0", "-k", k).status, 0)
        var r = sb.dkms("verify", "dkms-hello/1.0", "-k", k)
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(r.stdout.contains("dkms_hello.ko: identical"), r.stdout)
        // A tampered build is reported by name.
        let ko = "\(sb.dkmsTree)/dkms-hello/1.0/\(k)/x86_64/module/dkms_hello.ko"
        let h = try FileHandle(forUpdating: URL(fileURLWithPath: ko))
        try h.seek(toOffset: 64); h.write(Data([0x5a])); try h.close()
        r = sb.dkms("verify", "dkms-hello/1.0", "-k", k)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stdout.contains("dkms_hello.ko: DIFFERS"), r.stdout)
    }
}
