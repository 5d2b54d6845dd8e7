import Glibc
import SafeFS

/// Where a module's own code runs: its PATCH, PRE_BUILD, MAKE, CLEAN and
/// POST_BUILD commands and the POST_ADD/PRE_INSTALL/POST_INSTALL/POST_REMOVE
/// scripts. The host implementation does what dkms does (a real copy of the
/// source at the build path); the sandboxed one mounts an overlay there.
public protocol BuildEnvironment {
    /// Makes `buildDir` show a fresh copy of `sourceDir`.
    func prepare(sourceDir: String, buildDir: String) throws
    /// Runs `command` with bash in `cwd` (a path inside the build view).
    /// Output goes to `log` when given, else is captured into the result.
    func run(_ command: String, cwd: String, environment: [String], log: Int32?) -> StepOutcome
    /// Reads a file the build left at `path` (a path inside the build
    /// view), every component below the build area resolved beneath its
    /// layers without following a link (Beneath), at most `limit` bytes.
    func readOutput(_ path: String, limit: Int) -> Result<[UInt8], BoundedFile.Problem>
    /// lstat of what the build left at `path`, resolved the same way; nil
    /// when it is missing, deleted, or reached only through a link.
    func outputStat(_ path: String) -> stat?
    /// Drops the build area.
    func teardown(buildDir: String)
    /// What distinguishes this environment's builds, for the cache key.
    var profileIdentity: String { get }
    /// Makes a host path readable to module code (a BUILD_DEPENDS module's
    /// tree entry, whose Module.symvers a dependent build links against).
    func exposeReadOnly(_ path: String)
    /// Shows POST_BUILD the build's published place (`path`,
    /// `$dkms_tree/<m>/<v>/<k>/<arch>`) while the build is still in
    /// `staging`; `takeStaging` ends that and brings back what the script
    /// wrote there (PostBuildOutputs), returning notes for make.log.
    func showStaging(_ staging: String, at path: String) throws
    func takeStaging(_ staging: String, at path: String) -> [String]
}

/// How a step ended. Sandbox outcomes name the syscall or limit.
public enum StepOutcome: Equatable {
    case exited(Int32, output: String)
    case killed(reason: String, output: String)

    public var succeeded: Bool { if case .exited(0, _) = self { return true }; return false }
    public var output: String {
        switch self { case .exited(_, let o), .killed(_, let o): return o }
    }
    /// ": <why>" after a failure's message when the sandbox killed the step.
    var reasonSuffix: String {
        if case .killed(let why, _) = self { return ": \(why)" }
        return ""
    }
    public var exitStatus: Int32 {
        switch self { case .exited(let c, _): return c; case .killed: return 137 }
    }
}

/// Runs everything on the host, as the reference dkms does. Used only when
/// the sandbox is explicitly turned off.
public final class HostBuildEnvironment: BuildEnvironment {
    /// The build directories `prepare` made.
    var buildDirs: [String] = []

    public init() {}

    public func prepare(sourceDir: String, buildDir: String) throws {
        try? Files.removeTree(buildDir)
        if !buildDirs.contains(buildDir) { buildDirs.append(buildDir) }
        let parent = String(buildDir[..<(buildDir.lastIndex(of: "/") ?? buildDir.endIndex)])
        try Files.makeDirectories(parent)
        guard mkdir(buildDir, 0o755) == 0 else { throw DKMSError(.noModuleSource, "Could not create \(buildDir): \(FS.errnoText())") }
        // The source link itself is followed; nothing below it (TreeCopy).
        do { try TreeCopy.copy(from: sourceDir, into: buildDir) } catch {
            throw DKMSError(.noModuleSource, "Could not copy \(sourceDir) to \(buildDir): \(Printable.visible("\(error)"))")
        }
    }

    public func run(_ command: String, cwd: String, environment: [String], log: Int32?) -> StepOutcome {
        var p = Spawn(["/bin/bash", "--noprofile", "--norc", "-c", command], environment: environment, cwd: cwd)
        if let log { p.stdout = .fd(log); p.stderr = .stdout }
        let r = p.runReportingFailure()
        return .exited(r.status, output: r.stdoutText + r.stderrText)
    }

    /// The build area is a real copy at the build path: resolved beneath it.
    public func readOutput(_ path: String, limit: Int) -> Result<[UInt8], BoundedFile.Problem> {
        guard let root = area(path) else { return .failure(.escapes) }
        return Beneath.read(path: path, under: root, limit: limit)
    }

    public func outputStat(_ path: String) -> stat? {
        guard let root = area(path), let rel = Beneath.relative(path, to: root) else { return nil }
        return Beneath.withRoot(root) { Beneath.lstat($0, rel) } ?? nil
    }

    /// The build directory `path` lies in.
    func area(_ path: String) -> String? {
        buildDirs.first { Beneath.relative(path, to: $0) != nil }
    }

    public func teardown(buildDir: String) { try? Files.removeTree(buildDir) }

    public var profileIdentity: String { "host (unsandboxed)" }

    public func exposeReadOnly(_ path: String) {}

    /// Unconfined, as dkms: the script writes into the staging directory
    /// through a link at the published path.
    public func showStaging(_ staging: String, at path: String) throws {
        try Files.makeDirectories(String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]))
        guard symlink(staging, path) == 0 else { throw DKMSError(.failure, "Cannot create \(path): \(FS.errnoText())") }
    }

    public func takeStaging(_ staging: String, at path: String) -> [String] {
        if FS.isSymlink(path) { unlink(path) }
        return []
    }
}
