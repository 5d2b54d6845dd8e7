// Turns a SandboxSpec into the flat, pointer-based csb_config the C core executes. All strings
// are strdup'ed into memory owned by the Plan and stay valid for the csb_spawn() call; the child
// works on its copy-on-write copy, so the parent may free them as soon as csb_spawn() returns.

import CSandbox
import Foundation
#if canImport(Glibc)
import Glibc
import SafeFS
#endif

struct PlannedOp {
    var kind: Int32
    var flags: UInt32
    var mode: UInt32 = 0
    var src: String?
    var dst: String
    var data: String?
    /// For error messages: "mount overlay at /var/lib/dkms/x/1/build".
    var what: String
}

struct Plan {
    let spec: SandboxSpec
    let mode: SandboxMode
    var ops: [PlannedOp] = []
    var rlimits: [(Int32, UInt64, UInt64)] = []
    /// Detached trees (tree.c clones of caller paths, idmap.c id-mapped lowers) handed to the
    /// child, one per CSB_OP_ATTACH; closed by `closeTrees()`.
    var treeFDs: [Int32] = []
    var warnings: [String] = []

    static let roFlags = CSB_F_RDONLY | CSB_F_NOSUID | CSB_F_NODEV
    static let rwFlags = CSB_F_NOSUID | CSB_F_NODEV

    init(spec: SandboxSpec, mode: SandboxMode = .userNamespace) throws {
        self.spec = spec
        self.mode = mode
        guard !spec.argv.isEmpty, !spec.argv[0].isEmpty else { throw SandboxError.invalidSpec("argv is empty") }
        guard spec.cwd.hasPrefix("/") else { throw SandboxError.invalidSpec("cwd \(spec.cwd) is not absolute") }
        for m in spec.mounts {
            try Plan.checkTarget(m)
        }
        do {
            try buildOps()
            // internal.h CSB_MAX_KEEP_FDS: 5 fixed descriptors + the trees.
            if treeFDs.count > 120 { throw SandboxError.invalidSpec("\(treeFDs.count) host trees to attach; at most 120") }
        } catch {
            closeTrees()
            throw error
        }
        buildRlimits()
    }

    /// Targets under /proc and /dev are refused (the sandbox makes those). Under the read-only
    /// base /usr a target must already exist on the host, since nothing can be created there:
    /// sources live in /usr/src/<name>-<version> on every distribution. /etc lives on the new
    /// root's tmpfs, so its mount points can be made.
    static func checkTarget(_ m: SandboxSpec.Mount) throws {
        let t = m.target
        guard t.hasPrefix("/"), t != "/" else { throw SandboxError.invalidSpec("mount target \(t) must be absolute and not /") }
        let comps = t.split(separator: "/")
        if comps.contains("..") || comps.contains(".") { throw SandboxError.invalidSpec("mount target \(t) escapes the root") }
        for reserved in ["/proc", "/dev"] where t == reserved || t.hasPrefix(reserved + "/") {
            throw SandboxError.invalidSpec("mount target \(t) is inside the fixed \(reserved)")
        }
        if t == "/usr" { throw SandboxError.invalidSpec("mount target /usr replaces the base system") }
        if t.hasPrefix("/usr/"), !t.hasPrefix("/usr/src/"), !Plan.isRedundant(m) {
            var st = stat()
            if case .symlink = m {
                throw SandboxError.invalidSpec("mount target \(t) is inside the read-only /usr: no link can be made there")
            }
            guard lstat(t, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR || (st.st_mode & S_IFMT) == S_IFREG else {
                throw SandboxError.invalidSpec("mount target \(t) is inside the read-only /usr and is not a directory or file on the host")
            }
        }
    }

    /// A read-only bind of a /usr path onto itself adds nothing: the base /usr already shows it
    /// read-only. Not so under /usr/src, which the sandbox masks (`maskedUsrSrc`).
    static func isRedundant(_ m: SandboxSpec.Mount) -> Bool {
        guard case let .readOnlyBind(source, target) = m, target.hasPrefix("/usr/"), !target.hasPrefix("/usr/src/") else { return false }
        return source == target && realpathString(source) == target
    }

    static func realpathString(_ p: String) -> String? {
        guard let r = realpath(p, nil) else { return nil }
        defer { free(r) }
        return String(cString: r)
    }

    private static func host(_ p: String) -> String { CSB_OLD_ROOT + (p.hasPrefix("/") ? p : "/" + p) }
    private static func inside(_ p: String) -> String { CSB_NEW_ROOT + p }

    private mutating func bind(_ src: String, _ dst: String, flags: UInt32, what: String) {
        ops.append(PlannedOp(kind: Int32(CSB_OP_BIND.rawValue), flags: flags, src: Plan.host(src), dst: Plan.inside(dst), what: what))
    }

    /// Caller-supplied host paths (bind sources, overlay layers, headers) always go through a
    /// clone the supervisor makes with its own credentials (tree.c), never a lookup by the child:
    /// the sandbox's identity may not traverse them (a source under a 0700 `mktemp -d`, /root),
    /// one mechanism serves both modes, and a path the child resolved later could have been
    /// swapped since the caller named it. The cost is one open_tree per mount (microseconds).
    /// The base system (/usr, /lib*, /etc files, /dev nodes) is world-traversable and bound by name.
    /// The flip side: the supervisor resolves these paths with root's rights, so a caller must not
    /// name a path below a directory the sandbox can write (its upper layer); dkms passes module
    /// sources, headers, /etc/dkms and its own scratch directories only.
    /// A path the supervisor itself cannot open (it does not exist) is left to the child by
    /// name, which then fails at that mount with the usual "sandbox: <what>: <errno>" outcome.
    @discardableResult
    private mutating func attach(_ hostPath: String, _ dst: String, flags: UInt32, what: String) -> Bool {
        let fd = csb_clone_tree(hostPath)
        guard fd >= 0 else {
            if dst.hasPrefix(CSB_NEW_ROOT + "/") {
                ops.append(PlannedOp(kind: Int32(CSB_OP_BIND.rawValue), flags: flags, src: Plan.host(hostPath), dst: dst, what: what))
            }
            return false
        }
        attachFD(fd, dst, flags: flags, what: what)
        return true
    }

    private mutating func attachFD(_ fd: Int32, _ dst: String, flags: UInt32, what: String) {
        treeFDs.append(fd)
        ops.append(PlannedOp(kind: Int32(CSB_OP_ATTACH.rawValue), flags: flags, mode: UInt32(fd), dst: dst, what: what))
    }

    /// Where attached layers live: on the base tmpfs, outside the new root (gone after pivot).
    private var nextLayerPath: String { "/csb-layer-\(treeFDs.count)" }

    private mutating func buildOps() throws {
        let fm = FileManager.default
        // Base system: /usr read-only; /bin, /sbin, /lib* as on the host (symlinks on merged-usr).
        bind("/usr", "/usr", flags: Plan.roFlags, what: "bind /usr read-only")
        // /usr/src holds every module's source and every kernel's headers: masked by an empty
        // tmpfs, into which only this build's headers and mounts are bound below; sealed
        // read-only at the end, once their mount points are made.
        let maskUsrSrc = FS.kind("/usr/src") == .directory
        if maskUsrSrc {
            ops.append(PlannedOp(kind: Int32(CSB_OP_TMPFS.rawValue), flags: Plan.rwFlags | CSB_F_NOEXEC, dst: Plan.inside(Plan.maskedUsrSrc),
                                 data: "size=64k,nr_inodes=4096,mode=0755", what: "mask /usr/src with an empty tmpfs"))
        }
        for d in ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"] {
            var st = stat()
            guard lstat(d, &st) == 0 else { continue }
            if (st.st_mode & S_IFMT) == S_IFLNK, let target = try? fm.destinationOfSymbolicLink(atPath: d) {
                ops.append(PlannedOp(kind: Int32(CSB_OP_SYMLINK.rawValue), flags: 0, dst: Plan.inside(d), data: target,
                                     what: "symlink \(d)"))
            } else if (st.st_mode & S_IFMT) == S_IFDIR {
                bind(d, d, flags: Plan.roFlags, what: "bind \(d) read-only")
            }
        }
        // Minimal /etc: synthesized passwd/group (root inside = the build user), the loader cache
        // and Debian's alternatives (awk -> mawk). No resolv.conf, no hosts, no shadow.
        // The build user is uid 0 inside a user namespace, the outside uid itself without one.
        let (uid, gid) = (spec.idMap.outsideUID, spec.idMap.outsideGID)
        let passwd = mode == .userNamespace
            ? "root:x:0:0:build:/nonexistent:/bin/sh\n"
            : "root:x:0:0:root:/nonexistent:/usr/sbin/nologin\nbuild:x:\(uid):\(gid):build:/nonexistent:/bin/sh\n"
        let group = mode == .userNamespace ? "root:x:0:\n" : "root:x:0:\nbuild:x:\(gid):\n"
        ops.append(PlannedOp(kind: Int32(CSB_OP_FILE.rawValue), flags: 0, mode: 0o644, dst: Plan.inside("/etc/passwd"),
                             data: passwd + "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
                             what: "write /etc/passwd"))
        ops.append(PlannedOp(kind: Int32(CSB_OP_FILE.rawValue), flags: 0, mode: 0o644, dst: Plan.inside("/etc/group"),
                             data: group + "nogroup:x:65534:\n", what: "write /etc/group"))
        for f in ["/etc/ld.so.cache", "/etc/alternatives"] where fm.fileExists(atPath: f) {
            bind(f, f, flags: Plan.roFlags, what: "bind \(f) read-only")
        }
        // /dev: tmpfs with host device nodes bound in (no mknod in a user namespace), no tty.
        // The tmpfs itself is nodev too; each bound node is its own mount, without nodev.
        ops.append(PlannedOp(kind: Int32(CSB_OP_TMPFS.rawValue), flags: CSB_F_NOSUID | CSB_F_NODEV | CSB_F_NOEXEC, dst: Plan.inside("/dev"),
                             data: "size=64k,mode=0755", what: "mount tmpfs at /dev"))
        for n in ["null", "zero", "full", "random", "urandom"] {
            bind("/dev/\(n)", "/dev/\(n)", flags: CSB_F_NOSUID | CSB_F_NOEXEC, what: "bind /dev/\(n)")
        }
        for (l, t) in [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                       ("stderr", "/proc/self/fd/2")] {
            ops.append(PlannedOp(kind: Int32(CSB_OP_SYMLINK.rawValue), flags: 0, dst: Plan.inside("/dev/\(l)"), data: t,
                                 what: "symlink /dev/\(l)"))
        }
        ops.append(PlannedOp(kind: Int32(CSB_OP_TMPFS.rawValue), flags: CSB_F_NOSUID | CSB_F_NODEV | CSB_F_NOEXEC,
                             dst: Plan.inside("/dev/shm"), data: "size=64m,mode=1777", what: "mount tmpfs at /dev/shm"))
        ops.append(PlannedOp(kind: Int32(CSB_OP_PROC.rawValue), flags: CSB_F_NOSUID | CSB_F_NODEV | CSB_F_NOEXEC,
                             dst: Plan.inside("/proc"), what: "mount proc at /proc"))
        ops.append(PlannedOp(kind: Int32(CSB_OP_TMPFS.rawValue), flags: Plan.rwFlags, dst: Plan.inside("/tmp"),
                             data: "size=\(spec.limits.tmpfsBytes),mode=1777", what: "mount tmpfs at /tmp"))

        // Kernel headers (each objtree and the srctree it includes): their real location, unless
        // already inside the read-only base /usr (not so under the masked /usr/src).
        // After /tmp, so headers that live under /tmp are not hidden by its tmpfs.
        var seen = Set<String>()
        for real in spec.headersDirs.flatMap(HeaderTrees.trees(of:)) {
            let underBaseUsr = (real == "/usr" || real.hasPrefix("/usr/")) && !real.hasPrefix(Plan.maskedUsrSrc + "/")
            if underBaseUsr || seen.contains(real) { continue }
            seen.insert(real)
            attach(real, Plan.inside(real), flags: Plan.roFlags, what: "bind headers \(real) read-only")
        }
        // Caller's mounts, in order.
        for m in spec.mounts where !Plan.isRedundant(m) {
            switch m {
            case let .readOnlyBind(s, t): attach(s, Plan.inside(t), flags: Plan.roFlags, what: "bind \(s) read-only at \(t)")
            case let .readWriteBind(s, t): attach(s, Plan.inside(t), flags: Plan.rwFlags, what: "bind \(s) at \(t)")
            case let .overlay(lower, upper, work, t):
                var lowers: [String] = []
                for l in lower { lowers.append(escapeOverlayPath(try lowerLayerPath(l, upper: upper))) }
                let (up, wk) = try upperAndWork(upper, work)
                // userxattr: overlay inside a user namespace keeps its metadata in user.* xattrs;
                // mounted by real root (no user namespace) it uses trusted.* as usual.
                let data = "lowerdir=\(lowers.joined(separator: ":")),upperdir=\(escapeOverlayPath(up)),workdir=\(escapeOverlayPath(wk))"
                    + (mode == .userNamespace ? ",userxattr" : "")
                ops.append(PlannedOp(kind: Int32(CSB_OP_OVERLAY.rawValue), flags: Plan.rwFlags, dst: Plan.inside(t), data: data,
                                     what: "mount overlay at \(t)"))
            case let .tmpfs(t, size):
                ops.append(PlannedOp(kind: Int32(CSB_OP_TMPFS.rawValue), flags: Plan.rwFlags, dst: Plan.inside(t),
                                     data: "size=\(size),mode=0755", what: "mount tmpfs at \(t)"))
            case let .symlink(t, destination):
                ops.append(PlannedOp(kind: Int32(CSB_OP_SYMLINK.rawValue), flags: 0, dst: Plan.inside(t), data: destination,
                                     what: "symlink \(t) -> \(destination)"))
            }
        }
        if maskUsrSrc {
            ops.append(PlannedOp(kind: Int32(CSB_OP_SEAL.rawValue), flags: Plan.roFlags | CSB_F_NOEXEC, dst: Plan.inside(Plan.maskedUsrSrc),
                                 what: "make the /usr/src mask read-only"))
        }
    }

    /// Where other modules' sources and other kernels' headers live on every distribution.
    static let maskedUsrSrc = "/usr/src"

    /// Root-owned lower layers are attached through an id-mapped clone (host root -> the
    /// sandbox's outside ids), so the build user owns the merged view. That needs a user
    /// namespace for the mapping, which a chroot refuses: there (and when id-mapped mounts are
    /// unavailable or disabled) the lower layer is a plain clone and its directories are made in
    /// the upper layer, owned by the build user (`ownDirectories`): the build can create files
    /// everywhere, root-owned files themselves stay read-only (replacing them works).
    private mutating func lowerLayerPath(_ hostPath: String, upper: String) throws -> String {
        var st = stat()
        let rootOwned = stat(hostPath, &st) == 0 && st.st_uid == 0
        if rootOwned, spec.idmapRootOwnedLowers, mode == .userNamespace {
            let fd = csb_idmapped_tree(hostPath, spec.idMap.outsideUID, spec.idMap.outsideGID)
            if fd >= 0 {
                let dst = nextLayerPath
                attachFD(fd, dst, flags: Plan.roFlags, what: "attach id-mapped lower layer \(hostPath)")
                return dst
            }
            warnings.append("id-mapped lower layer \(hostPath) unavailable (\(errnoString(errno))); its directories are made in the upper layer instead")
        }
        let dst = nextLayerPath
        guard attach(hostPath, dst, flags: Plan.roFlags, what: "attach lower layer \(hostPath)") else { return Plan.host(hostPath) }
        // idmapRootOwnedLowers = false: leave root-owned lower layers as they are.
        if rootOwned, spec.idmapRootOwnedLowers { ownDirectories(of: hostPath, in: upper) }
        return dst
    }

    /// "Copy-up ownership" done ahead: every directory of `lower` not owned by the build user
    /// gets an upper-layer twin (same mode, owned by the outside uid/gid). overlayfs shows a
    /// merged directory with its upper inode's owner and mode, so the build may create objects
    /// in every subdirectory, as with the id-mapped lower. Directories only: cheap (no data),
    /// and the pristine tree is still never written. Existing upper entries are left alone.
    ///
    /// This runs as root in the parent while the upper layer belongs to the build user (an
    /// earlier step of the same build may have planted symlinks there): every upper path is
    /// walked with openat(O_NOFOLLOW | O_DIRECTORY) from the upper directory, created with
    /// mkdirat and given away through its own descriptor, so nothing outside `upper` is touched.
    func ownDirectories(of lower: String, in upper: String) {
        let (uid, gid) = (spec.idMap.outsideUID, spec.idMap.outsideGID)
        let upperFD = open(upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard upperFD >= 0 else { return }
        defer { close(upperFD) }
        /// An fd for the upper directory `comps` (already existing, real directories only).
        func openUpper(_ comps: ArraySlice<String>) -> Int32 {
            var fd = dup(upperFD)
            for c in comps where fd >= 0 {
                let next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                close(fd)
                fd = next
            }
            return fd
        }
        // The lower layer is the module's source: walked beneath it, through no link (Beneath).
        let lowerFD = Beneath.openRoot(lower)
        guard lowerFD >= 0 else { return }
        defer { close(lowerFD) }
        var pending: [[String]] = [[]]
        var made = 0
        while let comps = pending.popLast(), made < 100_000 {
            let rel = comps.joined(separator: "/")
            guard let st = Beneath.lstat(lowerFD, rel), (st.st_mode & S_IFMT) == S_IFDIR else { continue }
            if let name = comps.last, st.st_uid != uid {
                let parent = openUpper(comps.dropLast())
                if parent >= 0 {
                    let mode = mode_t(st.st_mode & 0o7777)
                    if mkdirat(parent, name, mode) == 0 {
                        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                        if fd >= 0 {
                            _ = fchown(fd, uid, gid)
                            _ = fchmod(fd, mode) // mkdirat's mode went through the umask
                            close(fd)
                        }
                        made += 1
                    }
                    close(parent)
                }
            }
            for name in Beneath.list(lowerFD, rel) ?? [] { pending.append(comps + [name]) }
        }
    }

    /// upper and work must sit on one mount for overlayfs, so their nearest common directory is
    /// cloned (dkms: the per-build scratch tmpfs) and attached. The child then walks from that
    /// directory to upper/ and work/ under its own identity: in the user-namespace mode that
    /// walk must be searchable by the outside uid, checked here so a failure names the directory.
    private mutating func upperAndWork(_ upper: String, _ work: String) throws -> (String, String) {
        let u = upper.split(separator: "/").map(String.init), w = work.split(separator: "/").map(String.init)
        var common = 0
        while common < min(u.count, w.count) - 1, u[common] == w[common] { common += 1 }
        let base = "/" + u.prefix(common).joined(separator: "/")
        if mode == .userNamespace {
            for path in [upper, work] {
                var dir = base
                let rest = path.split(separator: "/").dropFirst(common)
                for (i, comp) in ([""] + rest.map(String.init)).enumerated() {
                    if i > 0 { dir += (dir == "/" ? "" : "/") + comp }
                    if let why = unsearchable(dir) { throw SandboxError.unreachable(path: path, reason: why) }
                }
            }
        }
        let dst = nextLayerPath
        guard attach(base, dst, flags: Plan.rwFlags, what: "attach overlay upper/work directory \(base)") else {
            return (Plan.host(upper), Plan.host(work))
        }
        let rel = { (p: [String]) in p.dropFirst(common).map { "/" + $0 }.joined() }
        return (dst + rel(u), dst + rel(w))
    }

    /// Why the outside uid (no supplementary groups, no capability over host-owned files)
    /// cannot search `dir`, or nil.
    func unsearchable(_ dir: String) -> String? {
        var st = stat()
        guard stat(dir, &st) == 0 else { return nil } // missing: the mount reports it
        let (uid, gid) = (spec.idMap.outsideUID, spec.idMap.outsideGID)
        let bit: mode_t = st.st_uid == uid ? 0o100 : st.st_gid == gid ? 0o010 : 0o001
        if st.st_mode & bit != 0 { return nil }
        return "\(dir) is not searchable by the sandbox's uid \(uid) (mode \(String(st.st_mode & 0o7777, radix: 8)), owner \(st.st_uid))"
    }

    func closeTrees() { treeFDs.forEach { close($0) } }

    private mutating func buildRlimits() {
        let l = spec.limits
        rlimits = [
            (RL.cpu, l.cpuSeconds, l.cpuSeconds + 10),
            (RL.fsize, l.fileSizeBytes, l.fileSizeBytes),
            (RL.nofile, l.openFiles, l.openFiles),
            (RL.core, 0, 0),
            (RL.memlock, 64 << 10, 64 << 10),
            (RL.msgqueue, 0, 0),
        ]
    }

    /// Called with the cgroup layout known; adds fallback rlimits for missing controllers.
    func effectiveRlimits(_ cg: RunCgroups) -> [(Int32, UInt64, UInt64)] {
        var r = rlimits
        if !cg.hasMemoryLimit { r.append((RL.addressSpace, spec.limits.memoryBytes, spec.limits.memoryBytes)) }
        if !cg.hasPidsLimit { r.append((RL.nproc, spec.limits.pids, spec.limits.pids)) }
        return r
    }

    func message(step: Int32, errno e: Int32, index: Int32) -> String {
        var what = String(cString: csb_step_name(step))
        if step == Int32(CSB_STEP_OP.rawValue), index >= 0, Int(index) < ops.count { what = ops[Int(index)].what }
        if step == Int32(CSB_STEP_CHDIR.rawValue) { what = "chdir \(spec.cwd)" }
        if step == Int32(CSB_STEP_EXEC.rawValue) { what = "execute \(spec.argv[0])" }
        return "sandbox: \(what): \(errnoString(e))"
    }

    /// Build the csb_config (all pointers valid only inside `body`).
    func withConfig<R>(cgroups: RunCgroups, stdoutFD: Int32, _ body: (UnsafePointer<csb_config>) -> R) -> R {
        var arena: [UnsafeMutablePointer<CChar>] = []
        defer { arena.forEach { free($0) } }
        func c(_ s: String) -> UnsafePointer<CChar> {
            let p = strdup(s)!
            arena.append(p)
            return UnsafePointer(p)
        }
        func cArray(_ a: [String]) -> UnsafeMutablePointer<UnsafePointer<CChar>?> {
            let p = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: a.count + 1)
            for (i, s) in a.enumerated() { p[i] = c(s) }
            p[a.count] = nil
            return p
        }
        let argv = cArray(spec.argv)
        let envp = cArray(spec.env)
        let cgp = cArray(cgroups.procsFiles)
        defer { argv.deallocate(); envp.deallocate(); cgp.deallocate() }

        var cops = ops.map { op -> csb_op in
            var o = csb_op()
            o.kind = op.kind
            o.flags = op.flags
            o.mode = op.mode
            o.src = op.src.map { c($0) }
            o.dst = c(op.dst)
            if let d = op.data { o.data = c(d); o.data_len = d.utf8.count }
            return o
        }
        var rl = effectiveRlimits(cgroups).map { csb_rlimit(resource: $0.0, soft: $0.1, hard: $0.2) }
        let uidMap = "0 \(spec.idMap.outsideUID) 1\n" // CSB_MODE_USERNS only
        let gidMap = "0 \(spec.idMap.outsideGID) 1\n"
        let bpf = spec.profile.compiled.bpf
        var trees = treeFDs

        return trees.withUnsafeMutableBufferPointer { treeBuf in
          cops.withUnsafeMutableBufferPointer { opsBuf in
            rl.withUnsafeMutableBufferPointer { rlBuf in
                bpf.withUnsafeBytes { bpfRaw in
                    var cfg = csb_config()
                    cfg.argv = UnsafePointer(argv)
                    cfg.envp = UnsafePointer(envp)
                    cfg.cwd = c(spec.cwd)
                    cfg.hostname = c(spec.hostname)
                    cfg.ops = UnsafePointer(opsBuf.baseAddress)
                    cfg.nops = opsBuf.count
                    cfg.uid_map = c(uidMap)
                    cfg.gid_map = c(gidMap)
                    cfg.cgroup_procs = UnsafePointer(cgp)
                    cfg.ncgroup_procs = cgroups.procsFiles.count
                    cfg.rlimits = UnsafePointer(rlBuf.baseAddress)
                    cfg.nrlimits = rlBuf.count
                    cfg.filter = bpfRaw.baseAddress?.assumingMemoryBound(to: sock_filter.self)
                    cfg.filter_len = UInt16(bpf.count / 8)
                    cfg.stdout_fd = stdoutFD
                    cfg.stderr_fd = stdoutFD
                    cfg.tree_fds = UnsafePointer(treeBuf.baseAddress)
                    cfg.ntree_fds = treeBuf.count
                    cfg.mode = Int32(mode == .rootNamespaces ? CSB_MODE_ROOT.rawValue : CSB_MODE_USERNS.rawValue)
                    cfg.run_uid = spec.idMap.outsideUID
                    cfg.run_gid = spec.idMap.outsideGID
                    return withUnsafePointer(to: &cfg) { body($0) }
                }
            }
          }
        }
    }
}

/// Linux RLIMIT_* numbers (asm-generic; Swift's Glibc import hides several of them).
enum RL {
    static let cpu: Int32 = 0, fsize: Int32 = 1, core: Int32 = 4, nproc: Int32 = 6, nofile: Int32 = 7
    static let memlock: Int32 = 8, addressSpace: Int32 = 9, msgqueue: Int32 = 12
}
