import Glibc
import SafeFS

/// The build's modules, out of the build environment and into staging.
struct BuildCollection {
    let context: Context
    let environment: BuildEnvironment
    var tree: DKMSTree { context.tree }

    /// Module.symvers of the largest real modules is a few hundred KiB.
    static let maxSymversBytes = 64 << 20

    /// Takes the built modules out of the build area into
    /// <m>/<v>/<k>/<a>/module: stripped inside the build environment, then
    /// checked and copied byte by byte into a staging directory that is
    /// renamed into place only when complete (dkms 3.2's .tmp_<arch>_XXXXXX).
    /// Returns the staging directory; `BuildPublication.publish` signs, compresses and
    /// renames it into place.
    func collect(_ mv: ModuleVersion, _ target: KernelTarget, _ conf: ModuleConfig,
                 env: [String], logger: BuildLog, logPath: String) throws -> String {
        let k = target.version, a = target.arch
        let buildDir = tree.buildDir(mv)
        for spec in conf.modules {
            let buildPath = "\(buildDir)/\(spec.builtLocation)\(spec.builtName).ko"
            guard environment.outputStat(buildPath) != nil else {
                throw DKMSError(.badBuildOutput, "Build of \(spec.builtLocation)\(spec.builtName).ko failed for: \(k) (\(a))",
                                "Make sure the name and location of the generated module are correct,",
                                "or consult \(logPath) for more information.")
            }
        }
        // strip parses untrusted ELF, so it runs where the build ran.
        let toStrip = conf.modules.filter(\.strip).map { shellQuote("\(buildDir)/\($0.builtLocation)\($0.builtName).ko") }
        if !toStrip.isEmpty {
            // dkms's make.log has no strip step: its output goes to a scratch
            // file, copied into make.log only when strip fails.
            let command = "strip -g " + toStrip.joined(separator: " ")
            var name = Array("/tmp/dkms-strip.XXXXXX".utf8CString)
            let scratch = name.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            if scratch >= 0 { name.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) } }
            let r = environment.run(command, cwd: buildDir, environment: env, log: scratch >= 0 ? scratch : logger.fd)
            defer { if scratch >= 0 { close(scratch) } }
            if !r.succeeded {
                logger.begin("Stripping modules", command: command)
                if scratch >= 0, let text = BuildLog.contents(of: scratch) { logger.write(text) }
                logger.end(r, elapsed: 0)
                throw DKMSError(.badBuildOutput, "Stripping the built modules failed for: \(k) (\(a))", "Consult \(logPath) for more information.")
            }
        }

        let staging = try tree.newStaging(mv, target.build)
        var done = false
        defer { if !done { try? Files.removeTree(staging) } }
        for spec in conf.modules {
            let bytes = try ModuleCheck.read("\(buildDir)/\(spec.builtLocation)\(spec.builtName).ko", kernel: k, arch: a,
                                             read: environment.readOutput)
            try Staging.writeFile(staging + "/module/\(spec.destName).ko", bytes)
        }
        // Module.symvers, when the build left one: a plain file, bounded;
        // anything else there is not taken.
        switch environment.readOutput(buildDir + "/Module.symvers", limit: Self.maxSymversBytes) {
        case .success(let data): try Staging.writeFile(staging + "/module/Module.symvers", data)
        case .failure(.missing): break
        case .failure(let p): logger.note("Module.symvers \(p.phrase(what: "a Module.symvers")); not kept.")
        }
        done = true
        return staging
    }
}
