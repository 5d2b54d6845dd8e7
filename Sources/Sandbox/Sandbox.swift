// Sandbox.run: spec -> flat plan -> csb_spawn -> supervise -> SandboxResult.
//
// The supervisor loop polls the command's output pipe and pid 1's status pipe, copies output to
// the log, enforces the wall-clock and no-output timeouts and pids.max, and tears the sandbox down
// by SIGKILLing pid 1 (the kernel then kills the whole pid namespace) plus every task of the run's
// cgroups. No global state: every run owns its pipes, cgroups and C strings.

import CSandbox
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum SandboxLog: Sendable {
    /// Create/truncate this file (mode 0640) and write the command's stdout+stderr to it.
    case path(String)
    /// Write to an already-open descriptor (not closed by the sandbox).
    case fd(Int32)
    /// Discard (the tail is still kept in the result).
    case none
}

public struct Sandbox {
    /// Run `spec` to completion. Throws `SandboxError` when nothing could be started (bad spec,
    /// log file, clone/id-map failure); everything else is reported in the result's outcome.
    /// - Parameter echo: also copy the output to this process's stderr.
    public static func run(_ spec: SandboxSpec, logTo log: SandboxLog = .none, echo: Bool = false) throws -> SandboxResult {
        let mode = try SandboxMode.resolve(spec)
        do {
            return try run(spec, mode: mode, logTo: log, echo: echo)
        } catch let SandboxError.spawnFailed(step, e) where step == String(cString: csb_step_name(Int32(CSB_STEP_CLONE.rawValue)))
                    && SandboxMode.refusals.contains(e) {
            // The probe granted a user namespace but the real clone (more flags) was refused:
            // still a place for the root-namespaces mode, if we are root and nobody forced a mode.
            if mode == .userNamespace, (try? SandboxMode.requested(spec)) == .some(nil), csb_is_privileged_root() != 0 {
                do { return try run(spec, mode: .rootNamespaces, logTo: log, echo: echo) } catch let SandboxError.spawnFailed(_, e2) {
                    throw SandboxError.namespacesUnavailable("clone: \(errnoString(e2))")
                }
            }
            throw SandboxError.namespacesUnavailable("clone: \(errnoString(e))")
        }
    }

    static func run(_ spec: SandboxSpec, mode: SandboxMode, logTo log: SandboxLog, echo: Bool) throws -> SandboxResult {
        let plan = try Plan(spec: spec, mode: mode)
        defer { plan.closeTrees() }
        var warnings = spec.profile.compiled.warnings + plan.warnings

        var logFD: Int32 = -1
        var ownsLog = false
        switch log {
        case let .path(p):
            logFD = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
            if logFD < 0 { throw SandboxError.io(path: p, errno: errno) }
            ownsLog = true
        case let .fd(fd): logFD = fd
        case .none: break
        }
        defer { if ownsLog { close(logFD) } }

        // One pipe for stdout and stderr, so ordering is preserved and silence is measurable.
        var outPipe: [Int32] = [-1, -1]
        guard csb_pipe_cloexec(&outPipe) == 0 else { throw SandboxError.io(path: "pipe", errno: errno) }

        let cgName = "csandbox-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let cgroups = RunCgroups.create(name: cgName, limits: spec.limits, root: spec.cgroupRoot)
        warnings += cgroups.warnings
        defer { cgroups.remove() }

        let start = monotonicSeconds()
        var res = csb_result()
        let rc = plan.withConfig(cgroups: cgroups, stdoutFD: outPipe[1]) { cfg in csb_spawn(cfg, &res) }
        close(outPipe[1])
        if rc != 0 {
            close(outPipe[0])
            let step = String(cString: csb_step_name(res.err_step))
            throw SandboxError.spawnFailed(step: res.err_index >= 0 ? "\(step) #\(res.err_index)" : step, errno: res.err_errno)
        }

        var sup = Supervisor(initPid: res.init_pid, statusFD: res.status_fd, outFD: outPipe[0], logFD: logFD,
                             echo: echo, limits: spec.limits, cgroups: cgroups, start: start)
        sup.loop()
        close(res.lifeline_fd)
        close(res.status_fd)
        close(outPipe[0])
        let duration = monotonicSeconds() - start

        // Decide the outcome. Supervisor kills first (they explain whatever status follows).
        var outcome: SandboxOutcome
        var violations: [String] = []
        let status = sup.exitStatus
        let oom = cgroups.oomKills() > 0
        if let k = sup.killReason {
            outcome = .limitExceeded(k)
        } else if let e = sup.setupError {
            outcome = .setupFailed(plan.message(step: e.step, errno: e.errno, index: e.index))
        } else if let st = status {
            let sig = st & 0x7F
            if sig == 0 {
                let code = (st >> 8) & 0xFF
                outcome = (code != 0 && oom) ? .limitExceeded(.memory) : .exited(code)
                // A shell reports a child killed by signal N as 128+N. Only the run's
                // rlimits send SIGXCPU and SIGXFSZ, so such a status names the limit.
                if code == 128 + SIGXCPU { outcome = .limitExceeded(.cpu) }
                if code == 128 + SIGXFSZ { outcome = .limitExceeded(.fileSize) }
                if code == 128 + SIGSYS {
                    violations = KernelLog.seccompKills(since: start, hostPid: nil, uid: spec.idMap.outsideUID)
                }
            } else {
                switch sig {
                case SIGSYS:
                    violations = KernelLog.seccompKills(since: start, hostPid: sup.commandHostPid, uid: spec.idMap.outsideUID)
                    outcome = .killedBySeccomp(violations.first ?? "unknown")
                case SIGXCPU: outcome = .limitExceeded(.cpu)
                case SIGXFSZ: outcome = .limitExceeded(.fileSize)
                case SIGKILL where oom: outcome = .limitExceeded(.memory)
                default: outcome = .signaled(sig)
                }
            }
        } else if oom {
            // The OOM killer may pick the sandbox's pid 1 (it holds the
            // namespace): the memory limit is still what ended the run.
            outcome = .limitExceeded(.memory)
        } else {
            outcome = .setupFailed("sandbox: pid 1 exited without reporting the command's status (init status \(sup.initStatus))")
        }
        // Forks failed at pids.max and the command then failed: that is the real cause.
        if sup.killReason == nil, cgroups.pidsMaxHits() > 0 {
            switch outcome {
            case .exited(let c) where c != 0: outcome = .limitExceeded(.pids)
            case .signaled: outcome = .limitExceeded(.pids)
            default: break
            }
        }

        return SandboxResult(outcome: outcome, waitStatus: status, duration: duration,
                             peakMemoryBytes: cgroups.peakMemory(), seccompViolations: violations,
                             outputTail: String(decoding: sup.tail, as: UTF8.self), warnings: warnings, mode: mode)
    }
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// The supervision loop's state.
struct Supervisor {
    let initPid: pid_t
    let statusFD: Int32
    let outFD: Int32
    let logFD: Int32
    let echo: Bool
    let limits: SandboxLimits
    let cgroups: RunCgroups
    let start: Double

    var exitStatus: Int32?
    var setupError: (step: Int32, errno: Int32, index: Int32)?
    var commandHostPid: Int32?
    var killReason: SandboxLimitKind?
    var initStatus: Int32 = 0
    var tail: [UInt8] = []
    /// Bytes the command has written to its output so far.
    var outputBytes: UInt64 = 0
    private var statusBuf: [UInt8] = []

    init(initPid: pid_t, statusFD: Int32, outFD: Int32, logFD: Int32, echo: Bool, limits: SandboxLimits,
         cgroups: RunCgroups, start: Double) {
        self.initPid = initPid; self.statusFD = statusFD; self.outFD = outFD; self.logFD = logFD
        self.echo = echo; self.limits = limits; self.cgroups = cgroups; self.start = start
    }

    mutating func kill(_ reason: SandboxLimitKind) {
        if killReason == nil { killReason = reason }
        Glibc.kill(initPid, SIGKILL)
        cgroups.killAll()
    }

    mutating func loop() {
        var statusOpen = true
        var outOpen = true
        var lastOutput = start
        var statusClosedAt: Double?
        var buf = [UInt8](repeating: 0, count: 65536)
        while statusOpen || outOpen {
            let now = monotonicSeconds()
            if let closed = statusClosedAt, now - closed > 2 { break } // stray writer; stop draining
            var timeout = 0.25
            if statusOpen, killReason == nil {
                timeout = min(timeout, start + limits.wallClockSeconds - now, lastOutput + limits.noOutputSeconds - now)
            }
            var fds = [pollfd(fd: statusOpen ? statusFD : -1, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: outOpen ? outFD : -1, events: Int16(POLLIN), revents: 0)]
            let r = poll(&fds, 2, Int32(max(0, timeout) * 1000))
            if r < 0, errno != EINTR { break }
            if fds[1].revents != 0 {
                let n = read(outFD, &buf, buf.count)
                if n > 0 {
                    lastOutput = monotonicSeconds()
                    consumeOutput(buf[0..<n])
                } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                    outOpen = false
                }
            }
            if fds[0].revents != 0 {
                let n = read(statusFD, &buf, buf.count)
                if n > 0 {
                    statusBuf += buf[0..<n]
                    parseRecords()
                } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                    statusOpen = false
                    // pid 1 is gone; the kernel has killed the namespace. Reap it.
                    var st: Int32 = 0
                    while waitpid(initPid, &st, 0) < 0 && errno == EINTR {}
                    initStatus = st
                    statusClosedAt = monotonicSeconds()
                }
            }
            if statusOpen, killReason == nil {
                let t = monotonicSeconds()
                if t - start >= limits.wallClockSeconds { kill(.wallClock) }
                else if t - lastOutput >= limits.noOutputSeconds { kill(.noOutput) }
                else if cgroups.pidsMaxHits() > 0 { kill(.pids) }
            }
        }
        if statusOpen { // bailed out: make sure nothing survives
            Glibc.kill(initPid, SIGKILL)
            var st: Int32 = 0
            while waitpid(initPid, &st, 0) < 0 && errno == EINTR {}
        }
        cgroups.killAll()
    }

    private mutating func consumeOutput(_ chunk: ArraySlice<UInt8>) {
        // The log is a file on the host that the command fills: it gets the
        // cap every file the command writes has (RLIMIT_FSIZE), else a build
        // printing `yes` fills the host's disk outside every other limit.
        let room = outputBytes < limits.fileSizeBytes ? Int(min(UInt64(chunk.count), limits.fileSizeBytes - outputBytes)) : 0
        outputBytes += UInt64(chunk.count)
        var kept = Array(chunk.prefix(room))
        if room < chunk.count, killReason == nil {
            kept += Array("\nsandbox: output exceeded \(limits.fileSizeBytes) bytes (the fileSize limit); stopped\n".utf8)
            kill(.fileSize)
        }
        guard !kept.isEmpty else { return }
        if logFD >= 0 { writeAll(logFD, kept[...]) }
        if echo { writeAll(2, kept[...]) }
        tail += kept
        if tail.count > 65536 { tail.removeFirst(tail.count - 65536) }
    }

    private mutating func parseRecords() {
        while statusBuf.count >= 16 {
            let rec = statusBuf.withUnsafeBytes { raw in
                (raw.load(fromByteOffset: 0, as: Int32.self), raw.load(fromByteOffset: 4, as: Int32.self),
                 raw.load(fromByteOffset: 8, as: Int32.self), raw.load(fromByteOffset: 12, as: Int32.self))
            }
            statusBuf.removeFirst(16)
            switch rec.0 {
            case Int32(CSB_REC_ERROR.rawValue): if setupError == nil { setupError = (rec.1, rec.2, rec.3) }
            case Int32(CSB_REC_STARTED.rawValue): commandHostPid = rec.1 > 0 ? rec.1 : nil
            case Int32(CSB_REC_EXIT.rawValue): exitStatus = rec.1
            default: break
            }
        }
    }
}

func writeAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>) {
    bytes.withUnsafeBytes { raw in
        var off = 0
        while off < raw.count {
            let w = write(fd, raw.baseAddress! + off, raw.count - off)
            if w < 0 { if errno == EINTR { continue }; return }
            off += w
        }
    }
}
