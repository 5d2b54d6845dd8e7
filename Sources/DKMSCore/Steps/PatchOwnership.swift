import Glibc

/// Files patch can rewrite in a sandboxed build area.
struct PatchOwnership {
    let environment: BuildEnvironment

    /// GNU patch gives each file it patches its original owner and fails
    /// (EINVAL) when that owner does not exist in the sandbox's user
    /// namespace, as root, who owns most of /usr/src, does not. Before
    /// patching, the build area's files not owned by the build's user are
    /// replaced by copies that are (same contents and modes), in the
    /// overlay's upper layer; the source tree is untouched. Files in
    /// directories the build cannot write (patches/ of a read-only tree)
    /// stay as they are: patch does not rewrite those. Unsandboxed
    /// builds need nothing (dkms's own case).
    func prepare(_ conf: ModuleConfig, buildDir: String, env: [String]) throws {
        guard !conf.patches.isEmpty, !(environment is HostBuildEnvironment) else { return }
        // Writable by their owner as well: dkms patches as root, to whom no file
        // is read-only (GNU patch would say "File ... is read-only; trying to patch anyway").
        let command = #"find . -type f ! -user "$(id -u)" -exec sh -c 'for f; do { cp -p --no-preserve=ownership -- "$f" "$f.dkms-own" && chmod u+w -- "$f.dkms-own" && mv -f -- "$f.dkms-own" "$f"; } 2>/dev/null || rm -f -- "$f.dkms-own"; done; exit 0' sh {} + ; find . -type f -user "$(id -u)" ! -perm -u+w -exec chmod u+w -- {} + 2>/dev/null; exit 0"#
        var name = Array("/tmp/dkms-own.XXXXXX".utf8CString)
        let scratch = name.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if scratch >= 0 { name.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) } }
        defer { if scratch >= 0 { close(scratch) } }
        let r = environment.run(command, cwd: buildDir, environment: env, log: scratch >= 0 ? scratch : nil)
        if !r.succeeded {
            throw DKMSError(.badPatch, "Could not prepare \(buildDir) for patching" + (scratch >= 0 ? ": " + (BuildLog.contents(of: scratch) ?? "") : "."))
        }
    }
}
