import BuildCache
import Glibc
import Foundation
import SafeFS

/// The build cache as the build sees it: computes a build's key from the
/// content of everything that can change its output, and finds, stores and
/// pins results. Keys are content, never names: the release string and the
/// package version are labels only.
public struct BuildCacheSession {
    public var store: CacheStore
    var digester: FileDigester
    /// Bumped whenever the build recipe changes what a key's output is.
    static let recipeVersion = "dkms-swift build recipe 1"

    public init(store: CacheStore) {
        self.store = store
        digester = FileDigester(memoDirectory: store.memoDirectory)
    }

    /// The run's session: its store opened once for the run (RunState).
    public init(_ context: Context) throws { self.init(store: try Self.store(context)) }

    /// Where the cache lives (Settings.cacheDir).
    public static func root(_ context: Context) -> String {
        context.settings.cacheDir(treeRoot: context.tree.root)
    }

    /// The cache's store for this run, opened the first time it is asked for.
    public static func store(_ context: Context) throws -> CacheStore {
        let root = root(context)
        if let known = context.run.cacheStores[root] { return known }
        do {
            let store = try CacheStore(root: root)
            context.run.cacheStores[root] = store
            return store
        } catch {
            throw DKMSError(.failure, "Build cache at \(root): \(error)")
        }
    }

    public struct KeyParts {
        public var sourceDir: String
        public var config: ModuleConfig
        public var target: KernelTarget
        public var makeCommand: String
        public var environment: [String]
        public var profile: String
        public var dependencyOutputs: [String]
        /// The dkms tree's path. Builds are path-independent (prefix maps
        /// take the build directory out of debug info and build ids), so the
        /// tree's location is replaced by a placeholder: trees sharing a
        /// cache share results.
        public var dkmsTree: String
        public var sourceTree: String
        public var installTree: String

        func normalized(_ s: String) -> String {
            var out = s
            let places = [(dkmsTree, "@dkms_tree"), (sourceTree, "@source_tree"), (installTree, "@install_tree")]
                .sorted { $0.0.count > $1.0.count }
            for (path, name) in places where path.count > 1 {
                if out == path { return name }
                out = out.replacingOccurrences(of: path + "/", with: name + "/")
            }
            return out
        }
    }

    /// The digest of the kernel build tree at `buildDirectory` (what a key's
    /// kernel-tree component is made of). One walk of the kernel tree per
    /// run, however many modules it builds: ~1 s cold, a stat walk (~30 ms)
    /// when the tree is as the last digest left it. A digest `prefetch`
    /// started is waited for instead.
    public func kernelTreeDigest(_ buildDirectory: String, run: RunState? = nil) throws -> Digest {
        guard let run else { return try BuildCacheSession.digestKernelTree(buildDirectory, memoDirectory: store.memoDirectory) }
        return try BuildCacheSession.kernelTreeDigest(buildDirectory, cacheRoot: store.root, run: run)
    }

    /// The same, for a run, without opening a session (dkms.conf replays need it).
    static func kernelTreeDigest(_ buildDirectory: String, cacheRoot: String, run: RunState) throws -> Digest {
        if let known = run.kernelDigests[buildDirectory] { return known }
        let digest = try run.pendingKernelDigests.removeValue(forKey: buildDirectory)?.wait()
            ?? digestKernelTree(buildDirectory, memoDirectory: CacheStore.memoDirectory(root: cacheRoot))
        run.kernelDigests[buildDirectory] = digest
        return digest
    }

    static func digestKernelTree(_ buildDirectory: String, memoDirectory: String) throws -> Digest {
        try KernelBuildTree.discover(buildDirectory: buildDirectory).digest(memoDirectory: memoDirectory)
    }

    /// Starts digesting the kernel tree on other threads, so the walk
    /// overlaps with what comes before the key (evaluating dkms.conf in the
    /// sandbox mostly waits on process start-up). Static: it needs no store
    /// and no file memo, which the session loads when it is made.
    public static func prefetchKernelTreeDigest(_ buildDirectory: String, cacheRoot: String, run: RunState) {
        guard run.kernelDigests[buildDirectory] == nil, run.pendingKernelDigests[buildDirectory] == nil else { return }
        let memo = CacheStore.memoDirectory(root: cacheRoot)
        run.pendingKernelDigests[buildDirectory] = PendingDigest {
            try digestKernelTree(buildDirectory, memoDirectory: memo)
        }
    }

    /// The key for one build.
    public mutating func key(_ p: KeyParts, kernelDigests: RunState? = nil) throws -> CacheKey {
        do {
            // Every byte of the source the build can read: nothing excluded
            // (a stale .o or Module.symvers in the source is an input to make).
            let source = try TreeDigester(options: TreeDigestOptions(symlinks: .record, exclude: nil))
                .digest(root: FS.realPath(p.sourceDir) ?? p.sourceDir, using: &digester).digest
            let kernel = try kernelTreeDigest(p.target.sourceDir, run: kernelDigests)
            let cc = p.environment.first { $0.hasPrefix("CC=") }.map { String($0.dropFirst(3)) } ?? "gcc"
            let tools = try Toolchain.resolve(cc: cc, searchPath: "/usr/bin:/bin", memoDirectory: store.memoDirectory)
                .digests(using: &digester)
            var config: [String: String] = [:]
            for (name, entries) in p.config.raw.values {
                for (i, v) in entries { config["\(name)[\(i)]"] = p.normalized(v) }
            }
            config["@make"] = p.normalized(p.makeCommand)
            config["@patches"] = p.config.patches.joined(separator: "\n")
            config["@modules"] = p.config.modules.map { "\($0.builtLocation)\($0.builtName)>\($0.destName):\($0.strip)" }.joined(separator: "\n")
            config["@recipe"] = BuildCacheSession.recipeVersion
            for (i, d) in p.dependencyOutputs.enumerated() {
                config["@dependency[\(i)]"] = SHA256.hash(bytes: FS.readFile(d) ?? []).hex
            }
            var env: [String: String] = [:]
            for e in p.environment {
                guard let eq = e.firstIndex(of: "=") else { continue }
                env[String(e[..<eq])] = p.normalized(String(e[e.index(after: eq)...]))
            }
            let inputs = BuildInputs(moduleSource: source, config: config, kernelTree: kernel, toolchain: tools,
                                     makeArgv: ["/bin/bash", "-c", p.normalized(p.makeCommand)], environment: env, arch: p.target.arch,
                                     sandboxProfile: SHA256.hash(bytes: Array(p.profile.utf8)))
            try? digester.save()
            return CacheKey(inputs)
        } catch let e as DKMSError {
            throw e
        } catch {
            throw DKMSError(.failure, "Build cache: cannot compute the key: \(error)")
        }
    }
}
