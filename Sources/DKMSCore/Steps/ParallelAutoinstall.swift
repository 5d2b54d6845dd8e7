import Glibc
import Foundation
import SafeFS

/// Runs the autoinstall plan: independent modules build at the same time
/// within the job budget, each in its own `dkms install` child; a module
/// starts only when everything it depends on is installed, and is skipped
/// with the reason when a dependency failed.
struct ParallelAutoinstall {
    struct Item {
        var moduleVersion: ModuleVersion; var deps: [String]
        var module: String { moduleVersion.name }
    }
    enum Result { case installed(Double), skipped, failed(Int32, Double, String), blocked(String) }

    var items: [Item]
    var kernel: String
    var arch: String
    var jobs: Int
    var childArguments: [String]
    var environment: [String]
    var out: Output
    /// The held tree lock, shared with the children (they act under it).
    var inheritFD: Int32?
    var logDir: (ModuleVersion) -> String

    /// Returns each module's result, in plan order.
    func run() -> [(Item, Result)] {
        var results: [String: Result] = [:]
        var running: [(Item, SpawnedChild, Date)] = []
        var pending = items
        let interactive = isatty(1) == 1 && !out.quiet
        let slots = max(1, min(jobs, items.count))
        var lastProgress = ""

        func startReady() {
            while running.count < slots {
                // Of the modules whose dependencies are done, the costliest
                // first: the longest build should not start last.
                let ready = pending.indices.filter { idx in
                    pending[idx].deps.allSatisfy { d in !pending.contains { $0.module == d } && !running.contains { $0.0.module == d } }
                }
                guard let i = ready.max(by: { weight(pending[$0]) < weight(pending[$1]) }) else { return }
                let item = pending.remove(at: i)
                if let bad = item.deps.first(where: { d in
                    if case .installed = results[d] ?? .installed(0) { return false }; return true
                }) {
                    results[item.module] = .blocked(bad)
                    report(item, .blocked(bad), output: "")
                    continue
                }
                // Each build gets the whole job budget: builds have serial
                // stretches (modpost, linking, a MAKE of several makes in a
                // row) that the other build running beside it fills.
                let share = max(1, jobs)
                let argv = [selfPath()] + ["install", "\(item.moduleVersion)", "-k", "\(kernel)/\(arch)",
                                           "--no-depmod", "-j", String(share)] + childArguments
                // Critical path first: a build started beside a bigger one runs
                // at a lower priority, so it fills the bigger build's serial
                // stretches instead of slowing it down (the total is bounded by
                // the biggest build, which should not wait for the small ones).
                let beside = running.contains { weight($0.0) >= weight(item) }
                var spawn = Spawn(argv, environment: environment)
                spawn.stderr = .stdout
                spawn.keepOpen = inheritFD.map { [$0] } ?? []
                spawn.niceness = beside ? 10 : 0
                if let child = try? spawn.start() {
                    running.append((item, child, Date()))
                } else {
                    results[item.module] = .failed(127, 0, "cannot start \(argv[0])")
                }
            }
        }

        func report(_ item: Item, _ r: Result, output: String) {
            if interactive && !lastProgress.isEmpty { out.text("\r\u{1b}[K"); lastProgress = "" }
            let who = "\(item.moduleVersion) for kernel \(kernel) (\(arch))"
            switch r {
            case .installed(let t): out.line("Autoinstall of module \(who): installed (\(String(format: "%.1f", t)) s)")
            case .skipped: out.line("Autoinstall of module \(who): skipped (BUILD_EXCLUSIVE)")
            case .blocked(let dep): out.line("Autoinstall of module \(who): not built, its dependency \(dep) did not install")
            case .failed(let code, let t, _):
                out.line("Autoinstall of module \(who): FAILED with exit code \(code) (\(String(format: "%.1f", t)) s)")
                let tail = output.split(separator: "\n", omittingEmptySubsequences: false).suffix(20)
                for l in tail where !l.isEmpty { out.line("    " + l) }
                let log = logDir(item.moduleVersion)
                out.line("    log: \(log)")
            }
        }

        startReady()
        while !running.isEmpty {
            var fds = running.map { pollfd(fd: $0.1.outputFD, events: Int16(POLLIN), revents: 0) }
            _ = poll(&fds, nfds_t(fds.count), interactive ? 500 : -1)
            var finished: [Int] = []
            for (i, r) in running.enumerated() where !r.1.drain() { finished.append(i) }
            for i in finished.reversed() {
                let (item, child, started) = running.remove(at: i)
                let code = child.wait().status
                let elapsed = Date().timeIntervalSince(started)
                let result: Result = code == DKMSError.Code.success.rawValue ? .installed(elapsed) : code == DKMSError.Code.buildExclusiveSkip.rawValue ? .skipped : .failed(code, elapsed, child.text)
                results[item.module] = result
                report(item, result, output: child.text)
            }
            startReady()
            if interactive && !running.isEmpty {
                let now = Date()
                lastProgress = "building: " + running.map { "\($0.0.module) (\(Int(now.timeIntervalSince($0.2))) s)" }.joined(separator: ", ")
                out.text("\r\u{1b}[K" + lastProgress)
            }
        }
        if interactive && !lastProgress.isEmpty { out.text("\r\u{1b}[K") }
        for item in pending where results[item.module] == nil { results[item.module] = .blocked(item.deps.joined(separator: " ")) }
        return items.map { ($0, results[$0.module]!) }
    }

    var buildWeights: [String: Int64] = [:]

    /// A cheap estimate of how long a build takes (`buildWeight`).
    func weight(_ item: Item) -> Int64 { buildWeights[item.module] ?? 0 }

    func selfPath() -> String { FS.realPath("/proc/self/exe") ?? CommandLine.arguments[0] }
}

extension ParallelAutoinstall {
    /// What a child `dkms install` needs to act on the same trees, the same way.
    static func childArguments(_ context: Context) -> [String] {
        let tree = context.tree
        var args = ["--dkmstree", tree.root, "--sourcetree", tree.sourceTree, "--installtree", tree.installTree]
        let inv = context.invocation
        if let k = inv.kernelSourceDir { args += ["--kernelsourcedir", k] }
        if inv.noCache { args.append("--no-cache") }
        if inv.noSandbox { args.append("--no-sandbox") }
        if let p = inv.sandboxProfile { args += ["--sandbox-profile", p] }
        if inv.verbose { args.append("--verbose") }
        return args
    }

    static func childEnvironment(_ context: Context) -> [String] {
        var env = Spawn.baseEnvironment + ["DKMS_CONFIG_DIR=\(context.configDir)"]
        if let fd = context.run.lock?.descriptor { env.append("DKMS_TREE_LOCK_FD=\(fd)") }
        return env
    }
}
