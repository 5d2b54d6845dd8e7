import Glibc

extension Spawn {
    /// Starts the program and returns at once; read its captured output
    /// with the child's drain(), then wait(). Throws IOFailure naming the
    /// program when it cannot be started.
    public func start() throws -> SpawnedChild {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        switch stdin {
        case .null: posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        case .inherit: break
        case .fd(let fd): posix_spawn_file_actions_adddup2(&actions, fd, 0)
        }
        // The write ends are the child's only; closed here once it has started.
        var ours: [Int32] = [-1, -1], theirs: [Int32] = []
        func closeAll() { (ours + theirs).filter { $0 >= 0 }.forEach { close($0) } }
        for (i, (sink, target)) in [(stdout, Int32(1)), (stderr, Int32(2))].enumerated() {
            switch sink {
            case .capture:
                var p: [Int32] = [-1, -1]
                guard pipe(&p) == 0 else { let e = IOFailure("pipe", argv[0]); closeAll(); throw e }
                _ = fcntl(p[0], F_SETFD, FD_CLOEXEC); _ = fcntl(p[1], F_SETFD, FD_CLOEXEC)
                _ = fcntl(p[0], F_SETFL, O_NONBLOCK)
                ours[i] = p[0]; theirs.append(p[1])
                posix_spawn_file_actions_adddup2(&actions, p[1], target)
            case .inherit: break
            case .discard: posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
            case .fd(let fd): posix_spawn_file_actions_adddup2(&actions, fd, target)
            case .stdout: posix_spawn_file_actions_adddup2(&actions, 1, target)
            }
        }
        // dup2 onto itself clears close-on-exec in the child only (glibc 2.29+).
        for fd in keepOpen { posix_spawn_file_actions_adddup2(&actions, fd, fd) }

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var all = sigset_t(); sigfillset(&all)
        posix_spawnattr_setsigdefault(&attr, &all)
        var none = sigset_t(); sigemptyset(&none)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = cwd.map { ["/usr/bin/env", "-C", $0, "--"] + self.argv } ?? self.argv
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) }; cEnv.forEach { free($0) } }
        var pid: pid_t = 0
        // posix_spawnp: a bare name is looked up in dkms's PATH, as a shell would.
        let rc = posix_spawnp(&pid, argv[0], &actions, &attr, cArgs, cEnv)
        theirs.forEach { close($0) }; theirs = []
        guard rc == 0 else { closeAll(); throw IOFailure("posix_spawn", argv[0], rc) }
        if niceness != 0 {
            errno = 0
            let base = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
            if errno == 0 { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(pid), base + niceness) }
        }
        return SpawnedChild(pid: pid, pipes: ours, limit: captureLimit)
    }
}
