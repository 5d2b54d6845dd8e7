import BuildCache
import Foundation
import Glibc

// Benchmarks the kernel build tree digest: cold (page cache dropped if permitted), warm
// (no memo: every file read), and memoized (stat-only) passes, plus raw SHA-256 throughput
// of libcrypto vs the portable implementation.
// Usage: cache-bench [build-dir] [--threads N]

/// Process CPU time (user+sys): the machine is shared, so wall time alone is noisy.
func cpu() -> Double { var ts = timespec(); clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9 }

func now() -> Double { var ts = timespec(); clock_gettime(CLOCK_MONOTONIC, &ts); return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9 }

var args = Array(CommandLine.arguments.dropFirst())
var threads = 2
if let i = args.firstIndex(of: "--threads"), i + 1 < args.count { threads = Int(args[i + 1]) ?? 2; args.removeSubrange(i...i + 1) }
// The first kernel with headers in version order unless one is named.
let buildDir = args.first ?? ((try? FileManager.default.contentsOfDirectory(atPath: "/lib/modules")) ?? [])
    .filter { FileManager.default.fileExists(atPath: "/lib/modules/\($0)/build/include") }
    .sorted { $0.compare($1, options: .numeric) == .orderedAscending }.first.map { "/lib/modules/\($0)/build" } ?? "/lib/modules/none/build"

func dropCaches() -> Bool {
    sync()
    guard let f = fopen("/proc/sys/vm/drop_caches", "w") else { return false }
    defer { fclose(f) }
    return fputs("3\n", f) >= 0
}

func mb(_ b: Int64) -> String { String(format: "%.1f MB", Double(b) / 1e6) }

do {
    let tree = try KernelBuildTree.discover(buildDirectory: buildDir)
    print("objtree: \(tree.objtree)\nsrctree: \(tree.srctree ?? "-")\nthreads: \(threads)")
    let memoDir = NSTemporaryDirectory() + "cache-bench-memo-\(getpid())"
    defer { _ = try? FileManager.default.removeItem(atPath: memoDir) }

    if let n = ProcessInfo.processInfo.environment["BENCH_MEMO_LOOP"].flatMap(Int.init) {
        // Profiling aid: repeat only the memoized pass.
        var d = FileDigester(memoDirectory: memoDir)
        _ = try tree.digest(using: &d, threads: threads); try d.save()
        let t0 = now(), c0 = cpu()
        for _ in 0..<n { var d2 = FileDigester(memoDirectory: memoDir); _ = try tree.digest(using: &d2, threads: threads) }
        print(String(format: "memoized pass avg: wall %.4f s, cpu %.4f s", (now() - t0) / Double(n), (cpu() - c0) / Double(n)))
        _ = try tree.digest(memoDirectory: memoDir, threads: threads)
        let t1 = now(), c1 = cpu()
        for _ in 0..<n { _ = try tree.digest(memoDirectory: memoDir, threads: threads) }
        print(String(format: "fingerprint-validated pass avg: wall %.4f s, cpu %.4f s", (now() - t1) / Double(n), (cpu() - c1) / Double(n)))
        _ = try? FileManager.default.removeItem(atPath: memoDir)
        exit(0)
    }

    // 1. Cold
    let dropped = dropCaches()
    var d = FileDigester(memoDirectory: nil)
    var t0 = now()
    var c0 = cpu()
    var r = try tree.digest(using: &d, threads: threads)
    var t = now() - t0
    print(String(format: "cold%@: %.3f s wall (%.3f s cpu)  digest %@  files %d (hashed %d unique), %@ (hashed %@)",
                 dropped ? "" : " (drop_caches not permitted: first run)", t, cpu() - c0, r.digest.short, r.files, r.filesHashed, mb(r.bytes), mb(r.bytesHashed)))
    for p in r.parts { print("   \(p.label): \(p.result.digest.short) files \(p.result.files) dirs \(p.result.directories) links \(p.result.symlinks) \(mb(p.result.bytes))") }

    // 2. Warm, no memo: every file is read and hashed again.
    for _ in 0..<3 {
        d = FileDigester(memoDirectory: nil)
        t0 = now(); c0 = cpu(); r = try tree.digest(using: &d, threads: threads); t = now() - t0
        print(String(format: "warm (full hash): %.3f s wall (%.3f s cpu)  files hashed %d, %@", t, cpu() - c0, r.filesHashed, mb(r.bytesHashed)))
    }

    // 3. Memoized: populate + save the memo, reload it as a new process would, stat-only pass.
    d = FileDigester(memoDirectory: memoDir)
    _ = try tree.digest(using: &d, threads: threads)
    try d.save()
    for _ in 0..<3 {
        t0 = now()
        let c0 = cpu()
        var d2 = FileDigester(memoDirectory: memoDir)
        let tl = now() - t0
        let t1 = now()
        let r2 = try tree.digest(using: &d2, threads: threads)
        let tw = now() - t1
        print(String(format: "memoized: load %.3f s + stat pass %.3f s = %.3f s wall (%.3f s cpu)  memo hits %d, files hashed %d, digest %@ %@",
                     tl, tw, tl + tw, cpu() - c0, d2.statistics.memoHits, r2.filesHashed, r2.digest.short, r2.digest == r.digest ? "(same)" : "(DIFFERENT!)"))
    }

    // 4. Hash throughput, 64 MiB in memory.
    let blob = [UInt8](repeating: 0x5a, count: 64 << 20)
    t0 = now(); _ = SHA256.hash(bytes: blob); t = now() - t0
    print(String(format: "SHA-256 libcrypto: %.0f MB/s", 67.108864 / t))
    var p = PortableSHA256()
    t0 = now(); p.update(blob); _ = p.finalize(); t = now() - t0
    print(String(format: "SHA-256 portable Swift: %.0f MB/s", 67.108864 / t))
} catch {
    print("error: \(error)")
    exit(1)
}
