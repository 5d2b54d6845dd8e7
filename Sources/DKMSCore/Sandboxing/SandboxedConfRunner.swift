import Sandbox
import SafeFS
import Glibc

/// Evaluates dkms.conf inside the sandbox under the stricter conf-eval
/// profile: the source and the kernel headers read-only, no writable build
/// root, no network. Only a small output directory is writable, for the
/// NUL-separated record the evaluator reads back.
public struct SandboxedConfRunner {
    let profile: LazyProfile
    let scratchRoot: String
    let configDir: String
    let headers: [String]

    public init(profile: LazyProfile, scratchRoot: String, configDir: String, headers: [String]) {
        self.profile = profile
        self.scratchRoot = scratchRoot
        self.configDir = configDir
        self.headers = headers
    }

    public var runner: ConfEvaluator.ConfRunner {
        { argv, env, cwd in self.run(argv, env, cwd) }
    }

    func run(_ argv: [String], _ env: [String], _ cwd: String) -> Spawn.Result {
        let fail = { (msg: String) in Spawn.Result(status: 1, stdout: [], stderr: Array((msg + "\n").utf8), setupFailure: msg) }
        let profile: SandboxProfile
        do { profile = try self.profile.get() } catch { return fail("sandbox: \(error)") }
        guard (try? Files.makeDirectories(scratchRoot, mode: 0o711)) != nil,
              let dir = try? Staging.makeDirectory(in: scratchRoot, prefix: StaleScratch.prefix("conf-")) else {
            return fail("sandbox: cannot prepare \(scratchRoot)")
        }
        chmod(scratchRoot, 0o711)
        chmod(dir, 0o711)
        defer { try? Files.removeTree(dir) }
        let outDir = dir + "/out"
        let idMap = SandboxSpec.IDMap()
        guard mkdir(outDir, 0o700) == 0, chown(outDir, idMap.outsideUID, idMap.outsideGID) == 0 else {
            return fail("sandbox: cannot prepare \(outDir): \(FS.errnoText())")
        }
        // The directory holding dkms.conf, read-only, at the path bash is
        // given and at its real path (for $BASH_SOURCE and relative sourcing).
        var argv = argv
        var mounts: [SandboxSpec.Mount] = []
        let confIndex = 6
        if argv.count > confIndex {
            let conf = argv[confIndex]
            let dir = String(conf[..<(conf.lastIndex(of: "/") ?? conf.startIndex)])
            if let real = FS.realPath(dir) {
                // The directory is handed over whatever lies above it; it and the file
                // themselves must be readable by the sandbox's uid.
                if let why = SandboxFailure.unreadable(FS.realPath(conf) ?? conf, below: real, idMap: idMap) { return fail(why) }
                mounts.append(.readOnlyBind(source: real, target: real))
                if real != dir { mounts.append(.readOnlyBind(source: real, target: dir)) }
            }
        }
        // Per-module overrides live in /etc/dkms, which the sandbox's /etc is
        // not: they are shown at /run/dkms-etc instead.
        for i in (confIndex + 2)..<max(argv.count, confIndex + 2) where argv[i].hasPrefix(configDir + "/") && FS.exists(argv[i]) {
            if !mounts.contains(.readOnlyBind(source: configDir, target: "/run/dkms-etc")) {
                mounts.append(.readOnlyBind(source: configDir, target: "/run/dkms-etc"))
            }
            argv[i] = "/run/dkms-etc/" + argv[i].dropFirst(configDir.count + 1)
        }
        // dkms.conf may test the headers' paths ($kernel_source_dir, and zfs's .../source).
        mounts += HeaderTrees.links(showing: headers)
        mounts.append(.readWriteBind(source: outDir, target: "/run/dkms-conf"))
        var spec = SandboxSpec(argv: argv, env: env + ["__dkms_out=/run/dkms-conf/record"], cwd: cwd, mounts: mounts,
                               headersDirs: headers, profile: profile, idMap: idMap)
        spec.hostname = "dkms-conf"
        let result: SandboxResult
        do { result = try Sandbox.run(spec, logTo: .path(dir + "/log")) } catch {
            return fail(SandboxFailure.describe(error, configDir: configDir))
        }
        // Both written by module code: the record bounded (a larger one is
        // no record: a bad conf file), the diagnostics by their tail.
        let record = (try? BoundedFile.read(outDir + "/record", limit: 4 * ConfEvaluator.maxConfBytes).get()) ?? []
        var diagnostics = BoundedFile.tail(dir + "/log", limit: 64 << 10).map { String(decoding: $0.bytes, as: UTF8.self) } ?? result.outputTail
        var status: Int32 = 0
        switch result.outcome {
        case .exited(let c):
            status = c
            // A helper the file ran was killed (bash survived to report it): name the call.
            if c != 0, let v = result.seccompViolations.first {
                diagnostics += "dkms.conf evaluation: a process was killed by the seccomp filter for calling \(v)\n"
            } else if c == 128 + SIGSYS {
                diagnostics += "dkms.conf evaluation: a process was killed by the seccomp filter \(SandboxBuildEnvironment.unnamedCall)\n"
            }
        case .killedBySeccomp(let name):
            status = 159
            diagnostics += "dkms.conf evaluation was killed by the seccomp filter "
                + (name == "unknown" ? SandboxBuildEnvironment.unnamedCall : "for calling \(name)") + "\n"
        case .limitExceeded(let kind):
            status = 137; diagnostics += "dkms.conf evaluation stopped: the \(kind.rawValue) limit was exceeded\n"
        case .signaled(let s): status = 128 + s
        case .setupFailed(let m): return fail(m)
        }
        return Spawn.Result(status: status, stdout: status == 0 ? record : [], stderr: Array(diagnostics.utf8))
    }
}
