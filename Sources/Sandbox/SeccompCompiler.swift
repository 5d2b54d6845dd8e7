// Compiles a SeccompProfile to a classic-BPF program with libseccomp, in the parent process.
//
// libseccomp is a faithful translator only for part of the OCI format. The research note (§4.2)
// measured the traps on Debian 12's libseccomp 2.5.4; this compiler rejects the profiles that
// would be mis-compiled instead of silently producing a weaker filter:
//   1. Shadowing: when a syscall has an unconditional rule, libseccomp silently drops
//      conditional rules with a different action (in either order). -> error naming both entries.
//   2. Repeated argument index: libseccomp cannot AND two comparisons on one index. An entry whose
//      conditions ALL use the same index is compiled as explicit OR (one rule per condition,
//      runc/crun behaviour); an entry mixing a repeated index with other indices would silently
//      turn AND into OR (runc#2735). -> error.
//   3. Unknown names: skipped for ALLOW/LOG entries (the syscall stays denied by default), an
//      error for any denying entry (a typo must not leave a syscall allowed).
//   4. Architectures: native only; any other architecture and the x32 ABI hit the bad-arch
//      action KILL_PROCESS. Non-native names in `architectures` are ignored (with a warning).

import CSandbox
import Foundation

public struct CompiledSeccomp: Sendable {
    /// `struct sock_filter` array as raw bytes (8 bytes per instruction).
    public let bpf: [UInt8]
    /// Non-fatal notes (skipped unknown ALLOW names, ignored architectures).
    public let warnings: [String]
    public var instructionCount: Int { bpf.count / 8 }
}

public enum SeccompCompiler {
    // libseccomp's SCMP_ACT_* values (macros with arguments are not imported into Swift).
    static let actKillProcess: UInt32 = 0x8000_0000
    static let actKillThread: UInt32 = 0x0000_0000
    static let actTrap: UInt32 = 0x0003_0000
    static func actErrno(_ e: UInt32) -> UInt32 { 0x0005_0000 | (e & 0xFFFF) }
    static func actTrace(_ e: UInt32) -> UInt32 { 0x7FF0_0000 | (e & 0xFFFF) }
    static let actLog: UInt32 = 0x7FFC_0000
    static let actAllow: UInt32 = 0x7FFF_0000

    static func actionValue(_ a: SeccompProfile.Action, errnoRet: UInt32?) throws -> UInt32 {
        switch a {
        case .kill, .killThread: return actKillThread
        case .killProcess: return actKillProcess
        case .trap: return actTrap
        case .errno: return actErrno(errnoRet ?? UInt32(EPERM))
        case .trace: return actTrace(errnoRet ?? UInt32(EPERM))
        case .allow: return actAllow
        case .log: return actLog
        case .notify: throw SandboxError.seccompCompile("SCMP_ACT_NOTIFY is not supported (no listener)")
        }
    }

    static func describe(_ rule: SeccompProfile.Rule, index: Int) -> String {
        var s = "syscalls[\(index)] (\(rule.names.joined(separator: ",")); \(rule.action.rawValue)"
        if let e = rule.errnoRet { s += " errno \(e)" }
        s += rule.args.isEmpty ? "; unconditional" : "; conditional"
        if let c = rule.comment, !c.isEmpty { s += "; \"\(c)\"" }
        return s + ")"
    }

    /// Compile for the native architecture. Throws SandboxError.seccompCompile.
    public static func compile(_ profile: SeccompProfile) throws -> CompiledSeccomp {
        var warnings: [String] = []
        let native = seccomp_arch_native()
        for name in profile.architectures {
            let token = archToken(name)
            if token == 0 { throw SandboxError.seccompCompile("unknown architecture \(name)") }
            if token != native { warnings.append("architecture \(name) ignored: native only") }
        }

        let defaultAct = try actionValue(profile.defaultAction, errnoRet: profile.defaultErrnoRet)

        // Pass 1: resolve names and lint, before touching libseccomp.
        struct Entry { let rule: Int; let action: UInt32; let conditional: Bool }
        var byNr: [Int32: [Entry]] = [:]
        var resolved: [[(String, Int32)]] = []
        for (i, rule) in profile.syscalls.enumerated() {
            let act = try actionValue(rule.action, errnoRet: rule.errnoRet)
            let indices = rule.args.map(\.index)
            let distinct = Set(indices)
            if distinct.count < indices.count, distinct.count > 1 {
                throw SandboxError.seccompCompile(
                    "\(describe(rule, index: i)) repeats an argument index together with other indices; "
                        + "libseccomp cannot AND conditions on one index and splitting would turn AND into OR — "
                        + "split it into separate entries")
            }
            var names: [(String, Int32)] = []
            for name in rule.names {
                let nr = seccomp_syscall_resolve_name(name)
                if nr == __NR_SCMP_ERROR {
                    if rule.action == .allow || rule.action == .log {
                        warnings.append("unknown syscall \(name) in \(describe(rule, index: i)) skipped")
                        continue
                    }
                    throw SandboxError.seccompCompile(
                        "unknown syscall \(name) in denying entry \(describe(rule, index: i)); "
                            + "a deny rule that cannot be compiled would leave the call allowed")
                }
                names.append((name, nr))
                byNr[nr, default: []].append(Entry(rule: i, action: act, conditional: !rule.args.isEmpty))
            }
            resolved.append(names)
        }
        for (nr, entries) in byNr.sorted(by: { $0.key < $1.key }) {
            let name = syscallName(nr) ?? "\(nr)"
            let uncond = entries.filter { !$0.conditional }
            if let u = uncond.first {
                if let other = uncond.first(where: { $0.action != u.action }) {
                    throw SandboxError.seccompCompile(
                        "syscall \(name) has conflicting unconditional entries \(describe(profile.syscalls[u.rule], index: u.rule)) "
                            + "and \(describe(profile.syscalls[other.rule], index: other.rule))")
                }
                if let c = entries.first(where: { $0.conditional && $0.action != u.action }) {
                    throw SandboxError.seccompCompile(
                        "syscall \(name): \(describe(profile.syscalls[c.rule], index: c.rule)) is shadowed by "
                            + "\(describe(profile.syscalls[u.rule], index: u.rule)); libseccomp would silently drop "
                            + "the conditional rule — express it as positive conditions instead")
                }
            }
        }

        // Pass 2: build the filter.
        guard let ctx = seccomp_init(defaultAct) else {
            throw SandboxError.seccompCompile("seccomp_init failed")
        }
        defer { seccomp_release(ctx) }
        var rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, actKillProcess)
        if rc < 0 { throw SandboxError.seccompCompile("cannot set bad-arch action: \(errnoString(-rc))") }
        // The C core sets no_new_privs itself, right before loading.
        rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)
        if rc < 0 { throw SandboxError.seccompCompile("cannot clear NNP attribute: \(errnoString(-rc))") }
        // A binary search over syscall numbers instead of a linear list: a
        // kernel build makes millions of syscalls, each of which runs the filter.
        rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)
        if rc < 0 { throw SandboxError.seccompCompile("cannot enable the binary-tree filter: \(errnoString(-rc))") }

        var added = Set<String>()
        for (i, rule) in profile.syscalls.enumerated() {
            let act = try actionValue(rule.action, errnoRet: rule.errnoRet)
            if act == defaultAct { continue } // redundant; libseccomp refuses it with EACCES
            let cmps = rule.args.map { a -> scmp_arg_cmp in
                var c = scmp_arg_cmp()
                c.arg = a.index
                c.op = compareOp(a.op)
                c.datum_a = a.value
                c.datum_b = a.valueTwo
                return c
            }
            let orMode = cmps.count > 1 && Set(rule.args.map(\.index)).count == 1
            for (name, nr) in resolved[i] {
                // A conditional rule whose action equals the syscall's unconditional one is
                // redundant (and libseccomp would drop it anyway).
                if !rule.args.isEmpty, byNr[nr]?.contains(where: { !$0.conditional && $0.action == act }) == true { continue }
                if rule.args.isEmpty {
                    let key = "\(nr)/u"
                    if added.contains(key) { continue }
                    added.insert(key)
                }
                let groups: [[scmp_arg_cmp]] = orMode ? cmps.map { [$0] } : [cmps]
                for g in groups {
                    var g = g
                    let r = g.withUnsafeMutableBufferPointer { buf in
                        seccomp_rule_add_array(ctx, act, nr, UInt32(buf.count), buf.baseAddress)
                    }
                    if r < 0 {
                        throw SandboxError.seccompCompile("libseccomp rejected \(name) in \(describe(rule, index: i)): \(errnoString(-r))")
                    }
                }
            }
        }

        let fd = csb_memfd("csandbox-bpf")
        if fd < 0 { throw SandboxError.seccompCompile("memfd_create: \(errnoString(errno))") }
        defer { close(fd) }
        rc = seccomp_export_bpf(ctx, fd)
        if rc < 0 { throw SandboxError.seccompCompile("seccomp_export_bpf: \(errnoString(-rc))") }
        let size = lseek(fd, 0, SEEK_END)
        lseek(fd, 0, SEEK_SET)
        var bytes = [UInt8](repeating: 0, count: Int(size))
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, Int(size)) }
        guard n == size, size % 8 == 0, size > 0 else { throw SandboxError.seccompCompile("short BPF export") }
        guard size / 8 <= 4096 else { throw SandboxError.seccompCompile("BPF program too long (\(size / 8) instructions)") }
        return CompiledSeccomp(bpf: bytes, warnings: warnings)
    }

    static func compareOp(_ op: SeccompProfile.Operator) -> scmp_compare {
        switch op {
        case .ne: return SCMP_CMP_NE
        case .lt: return SCMP_CMP_LT
        case .le: return SCMP_CMP_LE
        case .eq: return SCMP_CMP_EQ
        case .ge: return SCMP_CMP_GE
        case .gt: return SCMP_CMP_GT
        case .maskedEq: return SCMP_CMP_MASKED_EQ
        }
    }

    /// "SCMP_ARCH_X86_64" -> libseccomp token (0 if unknown).
    static func archToken(_ name: String) -> UInt32 {
        if name == "SCMP_ARCH_NATIVE" { return seccomp_arch_native() }
        guard name.hasPrefix("SCMP_ARCH_") else { return 0 }
        return seccomp_arch_resolve_name(String(name.dropFirst("SCMP_ARCH_".count)).lowercased())
    }

    /// Native syscall name for a number (nil if unknown).
    public static func syscallName(_ nr: Int32, auditArch: UInt32? = nil) -> String? {
        let arch = auditArch ?? seccomp_arch_native()
        guard let p = seccomp_syscall_resolve_num_arch(arch, nr) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }
}
