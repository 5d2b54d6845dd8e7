// Per-run cgroups: memory and pids limits, OOM / pids.max accounting, and tree-wide kill.
//
// cgroup v2 is detected with statfs(/sys/fs/cgroup) == CGROUP2_SUPER_MAGIC (nsjail
// detectCgroupv2). Otherwise v1 controllers are looked up under /sys/fs/cgroup/{memory,pids}
// (this VM: hybrid layout, the v2 mount at /sys/fs/cgroup/unified has no controllers). The run's
// cgroup is created BELOW the supervisor's own cgroup (from /proc/self/cgroup), so the
// supervisor's own limits still apply on top. Anything not writable degrades to rlimits, with a
// warning in the result.

import CSandbox
import SafeFS
import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct RunCgroups {
    enum Version: String { case v1, v2, none }

    var version: Version = .none
    /// cgroup.procs files the C parent writes pid 1 into before releasing it.
    var procsFiles: [String] = []
    /// Created directories (removed at the end, deepest first).
    var dirs: [String] = []
    var memoryDir: String?
    var pidsDir: String?
    var warnings: [String] = []

    var hasMemoryLimit: Bool { memoryDir != nil }
    var hasPidsLimit: Bool { pidsDir != nil }

    static let cgroup2Magic: Int = 0x6367_7270

    static func create(name: String, limits: SandboxLimits, root: String = "/sys/fs/cgroup") -> RunCgroups {
        var cg = RunCgroups()
        // Short, small runs (sourcing dkms.conf) use rlimits only: attaching
        // a process to a cgroup v1 memory controller costs ~10 ms.
        guard limits.useCgroups else { return cg }
        let magic = csb_fs_magic(root)
        guard magic >= 0 else {
            cg.warnings.append("cgroups unavailable (\(root): \(errnoString(errno))); using rlimits only")
            return cg
        }
        let own = ownCgroups()
        if magic == cgroup2Magic {
            cg.setupV2(root: root, own: own["" ] ?? "/", name: name, limits: limits)
        } else {
            cg.setupV1(root: root, own: own, name: name, limits: limits)
        }
        if cg.memoryDir == nil { cg.warnings.append("no writable memory cgroup; memory limit falls back to RLIMIT_AS") }
        if cg.pidsDir == nil { cg.warnings.append("no writable pids cgroup; pids limit falls back to RLIMIT_NPROC") }
        return cg
    }

    /// controller name ("" for the v2 line) -> path, from /proc/self/cgroup.
    static func ownCgroups() -> [String: String] {
        // Read to the end (FS.readText): Foundation's reader stops after the first chunk
        // of a /proc file, whose size says 0.
        guard let text = FS.readText("/proc/self/cgroup") else { return [:] }
        var map: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            let path = String(parts[2])
            if parts[1].isEmpty { map[""] = path; continue }
            for c in parts[1].split(separator: ",") { map[String(c)] = path }
        }
        return map
    }

    private mutating func makeDir(_ path: String) -> Bool {
        if mkdir(path, 0o755) == 0 || errno == EEXIST { dirs.append(path); return true }
        warnings.append("cannot create cgroup \(path): \(errnoString(errno))")
        return false
    }

    private mutating func setupV1(root: String, own: [String: String], name: String, limits: SandboxLimits) {
        version = .v1
        let memBase = "\(root)/memory\(own["memory"].map { $0 == "/" ? "" : $0 } ?? "")"
        if access("\(memBase)/memory.limit_in_bytes", F_OK) == 0 {
            let dir = "\(memBase)/\(name)"
            if makeDir(dir) {
                if writeFile("\(dir)/memory.limit_in_bytes", "\(limits.memoryBytes)") {
                    // No swap: memsw = mem (only present with swap accounting).
                    if access("\(dir)/memory.memsw.limit_in_bytes", F_OK) == 0 {
                        _ = writeFile("\(dir)/memory.memsw.limit_in_bytes", "\(limits.memoryBytes)")
                    }
                    memoryDir = dir
                    procsFiles.append("\(dir)/cgroup.procs")
                } else {
                    warnings.append("cannot set \(dir)/memory.limit_in_bytes: \(errnoString(errno))")
                }
            }
        }
        let pidsBase = "\(root)/pids\(own["pids"].map { $0 == "/" ? "" : $0 } ?? "")"
        if access("\(pidsBase)/cgroup.procs", F_OK) == 0 {
            let dir = "\(pidsBase)/\(name)"
            if makeDir(dir) {
                if writeFile("\(dir)/pids.max", "\(limits.pids)") {
                    pidsDir = dir
                    procsFiles.append("\(dir)/cgroup.procs")
                } else {
                    warnings.append("cannot set \(dir)/pids.max: \(errnoString(errno))")
                }
            }
        }
    }

    private mutating func setupV2(root: String, own: String, name: String, limits: SandboxLimits) {
        version = .v2
        let base = "\(root)\(own == "/" ? "" : own)"
        let available = FS.readText("\(base)/cgroup.controllers") ?? ""
        let ctrls = Set(available.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
        let enabledText = FS.readText("\(base)/cgroup.subtree_control") ?? ""
        var enabled = Set(enabledText.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
        for c in ["memory", "pids"] where ctrls.contains(c) && !enabled.contains(c) {
            if writeFile("\(base)/cgroup.subtree_control", "+\(c)") { enabled.insert(c); continue }
            // EBUSY: v2's "no internal processes" rule — our own cgroup holds processes (us), so
            // it cannot delegate controllers. Like nsjail (cgroup2.cc), move this process into a
            // leaf "csandbox-supervisor" below it once, then retry. This changes the cgroup of the
            // calling process (within its own subtree); it is the only process-wide side effect.
            if errno == EBUSY {
                let leaf = "\(base)/csandbox-supervisor"
                if mkdir(leaf, 0o755) == 0 || errno == EEXIST,
                   writeFile("\(leaf)/cgroup.procs", "\(getpid())"),
                   writeFile("\(base)/cgroup.subtree_control", "+\(c)") {
                    enabled.insert(c)
                    warnings.append("moved the supervisor into \(leaf) to enable the \(c) controller")
                }
            }
        }
        let dir = "\(base)/\(name)"
        guard makeDir(dir) else { return }
        procsFiles.append("\(dir)/cgroup.procs")
        if enabled.contains("memory"), writeFile("\(dir)/memory.max", "\(limits.memoryBytes)") {
            _ = writeFile("\(dir)/memory.swap.max", "0")
            memoryDir = dir
        }
        if enabled.contains("pids"), writeFile("\(dir)/pids.max", "\(limits.pids)") { pidsDir = dir }
    }

    /// Number of OOM kills inside the run's memory cgroup.
    func oomKills() -> UInt64 {
        guard let d = memoryDir else { return 0 }
        let file = version == .v2 ? "\(d)/memory.events" : "\(d)/memory.oom_control"
        return counter(file, key: "oom_kill")
    }

    /// Number of times fork/clone failed because pids.max was reached.
    func pidsMaxHits() -> UInt64 {
        guard let d = pidsDir else { return 0 }
        return counter("\(d)/pids.events", key: "max")
    }

    /// Peak memory usage (bytes) if the kernel reports it.
    func peakMemory() -> UInt64? {
        guard let d = memoryDir else { return nil }
        let f = version == .v2 ? "\(d)/memory.peak" : "\(d)/memory.max_usage_in_bytes"
        guard let t = FS.readText(f) else { return nil }
        return UInt64(t.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// SIGKILL everything in the run's cgroups (v2: cgroup.kill; v1: walk cgroup.procs).
    func killAll() {
        if version == .v2, let d = dirs.first {
            if writeFile("\(d)/cgroup.kill", "1") { return }
        }
        for f in procsFiles {
            for _ in 0..<20 {
                guard let t = FS.readText(f) else { break }
                let pids = t.split(separator: "\n").compactMap { Int32($0) }
                if pids.isEmpty { break }
                for p in pids { kill(p, SIGKILL) }
                usleep(2000)
            }
        }
    }

    /// Remove the run's cgroups; they are empty once pid 1 is reaped (dying tasks may linger a
    /// few milliseconds, hence the retries).
    func remove() {
        for d in dirs.reversed() {
            for _ in 0..<100 {
                if rmdir(d) == 0 || errno == ENOENT { break }
                killAll()
                usleep(5000)
            }
        }
    }

    private func counter(_ file: String, key: String) -> UInt64 {
        guard let t = FS.readText(file) else { return 0 }
        for line in t.split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count == 2, f[0] == key { return UInt64(f[1]) ?? 0 }
        }
        return 0
    }
}

/// write(2) a small string to a (cgroup/proc) file; true on success.
@discardableResult
func writeFile(_ path: String, _ s: String) -> Bool {
    let fd = open(path, O_WRONLY | O_CLOEXEC)
    if fd < 0 { return false }
    defer { close(fd) }
    let bytes = Array(s.utf8)
    return bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == bytes.count
}
