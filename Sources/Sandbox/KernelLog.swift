// Naming the syscall behind a seccomp kill.
//
// A process killed by SECCOMP_RET_KILL_* leaves no trace we can read afterwards: /proc/<pid>/
// syscall of a zombie says "running", and the wait status only says SIGSYS. The kernel does log
// every seccomp kill as an audit record (type=1326, "... pid=N ... sig=31 arch=c000003e
// syscall=250 ..."), printed to the kernel log when no auditd is running. We read /dev/kmsg
// (root only) and match the command's host pid (reported by the C core) or, for subprocesses,
// the run's outside uid and the time window. Records may be rate-limited by the kernel; the name
// is then "unknown".

import CSandbox
import Foundation
#if canImport(Glibc)
import Glibc
#endif

enum KernelLog {
    static func seccompKills(since start: Double, hostPid: Int32?, uid: UInt32) -> [String] {
        // kauditd prints asynchronously: retry for a moment until the record we want shows up.
        var last: (exact: [String], byUID: [String]) = ([], [])
        for attempt in 0..<15 {
            last = scan(since: start, hostPid: hostPid, uid: uid)
            if !last.exact.isEmpty { return last.exact + last.byUID }
            if hostPid == nil, !last.byUID.isEmpty { return last.byUID }
            if attempt < 14 { usleep(20_000) }
        }
        return last.byUID
    }

    /// Records of this run: `exact` matches the command's host pid; `byUID` are other kills by
    /// the run's outside uid since the run started (subprocesses), newest first.
    private static func scan(since start: Double, hostPid: Int32?, uid: UInt32) -> (exact: [String], byUID: [String]) {
        let fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 { return ([], []) }
        defer { close(fd) }
        // kmsg timestamps come from the scheduler clock, which tracks CLOCK_MONOTONIC closely.
        let sinceUsec = UInt64(max(0, (start - 0.05) * 1e6))
        var exact: [String] = []
        var byUID: [String] = []
        var buf = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = read(fd, &buf, buf.count)
            if n < 0 { if errno == EPIPE { continue }; break } // EPIPE: overwritten record
            if n == 0 { break }
            let rec = String(decoding: buf[0..<n], as: UTF8.self)
            guard rec.contains("type=1326"), rec.contains(" sig=31") else { continue }
            let header = rec.split(separator: ";", maxSplits: 1).first ?? ""
            let h = header.split(separator: ",")
            guard h.count >= 3, let ts = UInt64(h[2]), ts >= sinceUsec else { continue }
            let fields = fieldMap(rec)
            guard let nrText = fields["syscall"], let nr = Int64(nrText) else { continue }
            let arch = UInt32(fields["arch"] ?? "", radix: 16) ?? 0
            let name = describe(nr: nr, auditArch: arch)
            if let p = hostPid, fields["pid"] == String(p) { exact.append(name) }
            else if fields["uid"] == String(uid) { byUID.insert(name, at: 0) }
        }
        return (exact, byUID)
    }

    private static func fieldMap(_ rec: String) -> [String: String] {
        var m: [String: String] = [:]
        for tok in rec.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            let kv = tok.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { m[String(kv[0])] = String(kv[1]) }
        }
        return m
    }

    static func describe(nr: Int64, auditArch: UInt32) -> String {
        let native = seccomp_arch_native()
        if auditArch == native || auditArch == 0 {
            if nr & 0x4000_0000 != 0 {
                let x32 = seccomp_arch_resolve_name("x32")
                let base = SeccompCompiler.syscallName(Int32(truncatingIfNeeded: nr), auditArch: x32)
                    ?? SeccompCompiler.syscallName(Int32(truncatingIfNeeded: nr & ~0x4000_0000), auditArch: native)
                return "\(base ?? "syscall \(nr)") (x32)"
            }
            return SeccompCompiler.syscallName(Int32(truncatingIfNeeded: nr), auditArch: native) ?? "syscall \(nr)"
        }
        let archName: String
        switch auditArch {
        case 0x4000_0003: archName = "ia32"
        default: archName = String(auditArch, radix: 16)
        }
        let base = SeccompCompiler.syscallName(Int32(truncatingIfNeeded: nr), auditArch: auditArch) ?? "syscall \(nr)"
        return "\(base) (\(archName))"
    }
}
