import BuildCache
import Glibc
import SafeFS

/// Replays the evaluation of pure dkms.conf files (see `PureConf`): their
/// result is a function of the files' bytes, the argv, environment and
/// working directory the evaluator was given, and where it ran (the sandbox
/// profile). Each result is one small file named by the digest of all of
/// that. A sandbox start costs ~30 ms and every remove, add and install
/// evaluates dkms.conf: this is most of a cache hit's time otherwise.
///
/// Entries are written by rename and sealed (`Sealed`); a torn or foreign
/// file is a miss. Nothing in an entry is ever executed.
public struct ConfMemo {
    public var directory: String
    /// Where evaluations run (the conf-eval sandbox profile's identity, or
    /// "host" without the sandbox): results from elsewhere are not replayed.
    public var runner: String

    /// The content digest of a kernel build tree (what a build key's kernel
    /// component is), for files that read the kernel's configuration
    /// (`KernelDependentConf`); nil, or a nil result, evaluates those every time.
    public var kernelTree: ((_ buildDirectory: String) -> Digest?)?

    public init(directory: String, runner: String, kernelTree: ((String) -> Digest?)? = nil) {
        self.directory = directory; self.runner = runner; self.kernelTree = kernelTree
    }

    static let magic = Array("DKCONF01".utf8)

    /// The key of one evaluation, or nil when a file is neither pure nor
    /// kernel-dependent in the way `KernelDependentConf` takes.
    func key(argv: [String], environment: [String], cwd: String, files: [(path: String, bytes: [UInt8]?)],
             known: Set<String>) -> Digest? {
        let texts = files.compactMap(\.bytes)
        var kernel: CanonicalEncoder?
        if !PureConf.isPure(texts, known: known) {
            guard let programs = KernelDependentConf.programs(texts),
                  let inputs = kernelInputs(environment: environment, programs: programs) else { return nil }
            kernel = inputs
        }
        var enc = CanonicalEncoder(domain: "dkms-swift conf evaluation 1")
        if let kernel { enc.append(tag: 0x4b); enc.append(kernel.digest()) }
        enc.append(runner)
        enc.append(argv)
        enc.append(environment)
        enc.append(cwd)
        enc.append(UInt64(files.count))
        for f in files {
            enc.append(f.path)
            if let b = f.bytes { enc.append(tag: 0x31); enc.append(bytes: b) } else { enc.append(tag: 0x30) }
        }
        return enc.digest()
    }

    /// What a kernel-dependent evaluation reads besides its text and variables:
    /// the kernel tree (by content), and bash and the programs it runs (by
    /// (dev, inode, size, mtime, ctime): an upgrade replaces the file). Nil when
    /// the tree cannot be digested (no headers), the kernel's `.config`, which
    /// such files source, is not plain assignments, or the tree's path would be
    /// split or globbed when expanded unquoted.
    func kernelInputs(environment: [String], programs: Set<String>) -> CanonicalEncoder? {
        let name = KernelDependentConf.kernelDirVariable + "="
        guard let dir = environment.first(where: { $0.hasPrefix(name) })?.dropFirst(name.count),
              !dir.isEmpty, !dir.contains(where: { " \t\n*?[".contains($0) }),
              let tree = kernelTree?(String(dir)) else { return nil }
        if let config = FS.readFile(dir + "/.config"), !KernelDependentConf.isPlainKernelConfig(config) { return nil }
        var enc = CanonicalEncoder(domain: "dkms-swift conf kernel inputs 1")
        enc.append(tree)
        for p in ["bash"] + programs.sorted() {
            guard let path = ["/usr/bin/", "/bin/"].map({ $0 + p }).first(where: { FS.exists($0) }),
                  let real = FS.realPath(path), let st = FS.statInfo(real) else { return nil }
            enc.append(real)
            for v in [UInt64(st.st_dev), UInt64(st.st_ino), UInt64(st.st_size), UInt64(st.st_mtim.tv_sec), UInt64(st.st_mtim.tv_nsec),
                      UInt64(st.st_ctim.tv_sec), UInt64(st.st_ctim.tv_nsec)] { enc.append(v) }
        }
        return enc
    }

    func path(_ key: Digest) -> String { directory + "/" + key.hex }

    func load(_ key: Digest) -> Spawn.Result? {
        guard let file = FS.readFile(path(key)), let sealed = Sealed.open(file), sealed.count >= 16,
              Array(sealed.prefix(8)) == ConfMemo.magic else { return nil }
        let body = Array(sealed)
        let stderrCount = body[8..<16].reduce(0) { $0 << 8 | Int($1) }
        guard stderrCount >= 0, stderrCount <= body.count - 16 else { return nil }
        let stderr = Array(body[16..<(16 + stderrCount)])
        return Spawn.Result(status: 0, stdout: Array(body[(16 + stderrCount)...]), stderr: stderr)
    }

    /// Best effort: a memo that cannot be written only costs the next run a sandbox start.
    func store(_ key: Digest, _ result: Spawn.Result) {
        let length = (0..<8).reversed().map { UInt8(truncatingIfNeeded: result.stderr.count >> ($0 * 8)) }
        let file = Sealed.seal(ConfMemo.magic + length + result.stderr + result.stdout)
        guard (try? Files.makeDirectories(directory, mode: 0o700)) != nil else { return }
        let temp = path(key) + ".tmp\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return }
        let written = file.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        if written == file.count { rename(temp, path(key)) } else { unlink(temp) }
    }
}
