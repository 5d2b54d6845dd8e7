import Sandbox
import SafeFS
import Glibc

/// Runs every module command confined: new user, mount, pid, net, ipc, uts
/// and cgroup namespaces, no capabilities, the seccomp profile, limits. The
/// build directory is an overlay (lower: the module source, read-only; upper:
/// a scratch directory) mounted at the path dkms.conf expects; the source is
/// also visible read-only at $dkms_tree/<m>/<v>/source, and the kernel
/// headers read-only. Nothing else of the host is writable or even visible.
public final class SandboxBuildEnvironment: BuildEnvironment {
    let profile: LazyProfile
    let identity: String
    let headers: [String]
    let scratchRoot: String
    let out: Output
    /// build path -> (lower, upper, work, scratch dir)
    var overlays: [String: (lower: String, upper: String, work: String, scratch: String)] = [:]
    /// Each mounted scratch tmpfs's slot in ScratchMounts (undone on SIGTERM/SIGINT).
    var scratchSlots: [String: Int32] = [:]
    /// Extra read-only views: the module source at its tree path.
    var sources: [String: String] = [:]
    /// Writable directories the supervisor made for one step, by the path
    /// module code sees them at (POST_BUILD's view of the published build).
    var outputs: [String: String] = [:]
    let idMap = SandboxSpec.IDMap()
    /// For the opt-out hint when no namespace can be made (framework.conf's directory).
    let configDir: String
    /// The mode of the last run, printed with --verbose when it changes.
    var reportedMode: SandboxMode?

    public init(profile: LazyProfile, identity: String, headers: [String], scratchRoot: String, output: Output,
                configDir: String = "/etc/dkms") {
        self.configDir = configDir
        self.profile = profile
        self.identity = identity
        self.headers = headers
        self.scratchRoot = scratchRoot
        self.out = output
    }

    public var profileIdentity: String { identity }

    public func prepare(sourceDir: String, buildDir: String) throws {
        let profile = try self.profile.get()
        teardown(buildDir: buildDir)
        guard let lower = FS.realPath(sourceDir) else { throw DKMSError(.missingSource, "Module source \(sourceDir) does not exist.") }
        // Searchable but not listable: the sandbox's mapped user must reach
        // upper/ and work/ to mount them, and nobody needs to list them.
        try Files.makeDirectories(scratchRoot, mode: 0o711)
        chmod(scratchRoot, 0o711)
        let scratch = try Staging.makeDirectory(in: scratchRoot, prefix: StaleScratch.prefix("build-"))
        // The writable layer lives on a size-capped tmpfs: a build that
        // fills its disk fills this, not the host's /var.
        guard mount("dkms-build", scratch, "tmpfs", UInt(MS_NOSUID | MS_NODEV),
                    "size=\(profile.limits.buildRootBytes),mode=0711") == 0 else {
            let e = errno
            try? Files.removeTree(scratch)
            throw DKMSError(.failure, "Cannot mount the sandbox build area at \(scratch): \(FS.errnoText(e))")
        }
        scratchSlots[scratch] = ScratchMounts.register(scratch)
        let upper = scratch + "/upper", work = scratch + "/work"
        for d in [upper, work] {
            guard mkdir(d, 0o755) == 0, chown(d, idMap.outsideUID, idMap.outsideGID) == 0 else {
                throw DKMSError(.failure, "Cannot prepare the sandbox build area \(d): \(FS.errnoText())")
            }
        }
        overlays[buildDir] = (lower, upper, work, scratch)
        // Each build sees its own source and what it declares, nothing left
        // over from an earlier build in this run.
        sources = [:]
        exposeSource(sourceDir)
        try Files.makeDirectories(buildDir)
    }

    func mounts(for cwd: String) -> [SandboxSpec.Mount] {
        var m: [SandboxSpec.Mount] = []
        for (path, dir) in outputs.sorted(by: { $0.key < $1.key }) { m.append(.readWriteBind(source: dir, target: path)) }
        for (link, real) in sources.sorted(by: { $0.key < $1.key }) { m.append(.readOnlyBind(source: real, target: link)) }
        for (target, o) in overlays.sorted(by: { $0.key < $1.key }) {
            m.append(.overlay(lower: [o.lower], upper: o.upper, work: o.work, target: target))
        }
        // Kernel headers at the path the make command names, which may be a
        // link outside /usr (an install tree's <k>/build and <k>/source): links
        // to the real trees (bound read-only at their real path), so the trees'
        // own relative links keep resolving.
        m += HeaderTrees.links(showing: headers)
        return m
    }

    public func exposeReadOnly(_ path: String) { exposeSource(path) }

    public func showStaging(_ staging: String, at path: String) throws {
        let dir = try Staging.makeDirectory(in: scratchRootEnsured(), prefix: StaleScratch.prefix("post-"))
        guard chmod(dir, 0o755) == 0, chown(dir, idMap.outsideUID, idMap.outsideGID) == 0 else {
            try? Files.removeTree(dir)
            throw DKMSError(.failure, "Cannot prepare \(dir) for the post_build script: \(FS.errnoText())")
        }
        // The build user must reach module/ to bind it: staging is a
        // mkdtemp directory (0700); searchable is enough, nothing lists it.
        chmod(staging, 0o711)
        outputs[path] = dir
        sources[path + "/module"] = staging + "/module"
    }

    public func takeStaging(_ staging: String, at path: String) -> [String] {
        sources.removeValue(forKey: path + "/module")
        guard let dir = outputs.removeValue(forKey: path) else { return [] }
        defer { try? Files.removeTree(dir) }
        return PostBuildOutputs.take(from: dir, into: staging)
    }

    public func exposeSource(_ link: String) {
        if let real = FS.realPath(link) { sources[link] = real }
    }

    public func run(_ command: String, cwd: String, environment: [String], log: Int32?) -> StepOutcome {
        // Scripts run from the module's source directory: show it read-only.
        let covered = overlays.keys.contains { cwd == $0 || cwd.hasPrefix($0 + "/") } || sources.keys.contains { cwd == $0 || cwd.hasPrefix($0 + "/") }
        if !covered { exposeSource(cwd) }
        let profile: SandboxProfile
        do { profile = try self.profile.get() } catch {
            return .killed(reason: "\(error)", output: "")
        }
        var spec = SandboxSpec(argv: ["/bin/bash", "--noprofile", "--norc", "-c", command], env: environment, cwd: cwd,
                               mounts: mounts(for: cwd), headersDirs: headers, profile: profile, idMap: idMap)
        spec.hostname = "dkms-build"
        let captureFile = log == nil ? try? Staging.makeDirectory(in: scratchRootEnsured(), prefix: "out-") : nil
        defer { if let c = captureFile { try? Files.removeTree(c) } }
        let sink: SandboxLog = log.map { .fd($0) } ?? captureFile.map { .path($0 + "/log") } ?? .none
        let result: SandboxResult
        do { result = try Sandbox.run(spec, logTo: sink) } catch {
            return .killed(reason: SandboxFailure.describe(error, configDir: configDir), output: "")
        }
        if out.verbose, reportedMode != result.mode {
            reportedMode = result.mode
            out.line(result.mode == .rootNamespaces
                     ? "sandbox: root-namespaces mode (user namespaces are refused here, e.g. in a chroot): namespaces made as root, module code runs as uid \(idMap.outsideUID)"
                     : "sandbox: user-namespace mode")
        }
        for w in result.warnings where !w.contains("id-mapped") { out.warn("sandbox: \(w)") }
        // What module code printed: only its last MiB is read and shown.
        let output = captureFile.flatMap { BoundedFile.tail($0 + "/log", limit: Self.maxCapturedBytes) }.map {
            ($0.truncated ? "[dkms: output truncated to its last \(Self.maxCapturedBytes) bytes]\n" : "") + String(decoding: $0.bytes, as: UTF8.self)
        } ?? result.outputTail
        return SandboxBuildEnvironment.outcome(result, output: output)
    }

    func scratchRootEnsured() throws -> String {
        try Files.makeDirectories(scratchRoot, mode: 0o711)
        return scratchRoot
    }

    static func outcome(_ r: SandboxResult, output: String) -> StepOutcome {
        switch r.outcome {
        case .exited(let code):
            if code != 0, let v = r.seccompViolations.first { return .killed(reason: "a process was killed by the seccomp filter for calling \(v)", output: output) }
            // A shell's 128+SIGSYS: a helper was killed, but the kernel log
            // (rate-limited) had no record of the call.
            if code == 128 + SIGSYS { return .killed(reason: "a process was killed by the seccomp filter \(SandboxBuildEnvironment.unnamedCall)", output: output) }
            return .exited(code, output: output)
        case .killedBySeccomp(let name):
            return .killed(reason: "killed by the seccomp filter " + (name == "unknown" ? unnamedCall : "for calling \(name)"), output: output)
        case .limitExceeded(let kind): return .killed(reason: "stopped: the \(kind.rawValue) limit was exceeded", output: output)
        case .signaled(let sig): return .exited(128 + sig, output: output)
        case .setupFailed(let msg): return .killed(reason: "sandbox setup failed: \(msg)", output: output)
        }
    }

    public static let maxCapturedBytes = 1 << 20

    static let unnamedCall = "(the kernel log, which is rate-limited, did not name the call)"

    /// Build outputs are read from the overlay's upper directory (new and
    /// changed files) or, where the upper layer has nothing on the path, the
    /// lower one (untouched source files): both are module-controlled, so
    /// every component is resolved beneath the layer without following a
    /// link (Beneath). A link in either layer, a whiteout (deleted) or a
    /// non-directory above the name in the upper layer is no file.
    func layered<T>(_ path: String, _ body: (Int32, String) -> Lookup<T>) -> Lookup<T> {
        for (target, o) in overlays {
            guard let rel = Beneath.relative(path, to: target) else { continue }
            let upper = Beneath.withRoot(o.upper, { body($0, rel) }) ?? .refused(.missing)
            // Only a name the upper layer does not have at all falls through.
            guard case .refused(.missing) = upper else { return upper }
            return Beneath.withRoot(o.lower, { body($0, rel) }) ?? .refused(.missing)
        }
        return .refused(.escapes)
    }

    enum Lookup<T> {
        case found(T)
        case refused(BoundedFile.Problem)
    }

    public func outputStat(_ path: String) -> stat? {
        let r: Lookup<stat> = layered(path) { root, rel in
            guard let st = Beneath.lstat(root, rel) else { return .refused(errno == ENOENT ? .missing : .symlink) }
            // An overlay whiteout: the build deleted it.
            if (st.st_mode & S_IFMT) == S_IFCHR && st.st_rdev == 0 { return .refused(.notRegular) }
            return .found(st)
        }
        if case .found(let st) = r { return st }
        return nil
    }

    public func readOutput(_ path: String, limit: Int) -> Result<[UInt8], BoundedFile.Problem> {
        let r: Lookup<[UInt8]> = layered(path) { root, rel in
            switch Beneath.read(root, rel, limit: limit) {
            case .success(let b): return .found(b)
            case .failure(let p): return .refused(p)
            }
        }
        switch r {
        case .found(let b): return .success(b)
        case .refused(let p): return .failure(p)
        }
    }

    public func teardown(buildDir: String) {
        if let o = overlays.removeValue(forKey: buildDir) {
            umount2(o.scratch, Int32(MNT_DETACH))
            if let slot = scratchSlots.removeValue(forKey: o.scratch) { ScratchMounts.unregister(slot) }
            try? Files.removeTree(o.scratch)
        }
    }
}
