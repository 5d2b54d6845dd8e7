import Glibc
import SafeFS

/// Evaluates a dkms.conf the way dkms does: bash sources it with the dkms
/// variables set, because real files use `if`, `$(...)`, sourcing the
/// kernel's .config, arithmetic and `$BASH_SOURCE`. The values are read back
/// NUL-separated through a nameref walk, never by parsing `set` output, so
/// newlines, quotes and sparse arrays survive intact.
///
/// Running bash is the one seam: `ConfRunner` decides where it runs (on the
/// host, or confined in the sandbox).
public struct ConfEvaluator {
    public struct Context: Equatable {
        public var kernelVersion: String
        public var arch: String
        public var kernelSourceDir: String
        public var dkmsTree: String
        public var sourceTree: String
        public var installTree: String
        public var module: String
        public var moduleVersion: String

        public init(kernelVersion: String, arch: String, kernelSourceDir: String, dkmsTree: String,
                    sourceTree: String, installTree: String, module: String = "", moduleVersion: String = "") {
            self.kernelVersion = kernelVersion; self.arch = arch; self.kernelSourceDir = kernelSourceDir
            self.dkmsTree = dkmsTree; self.sourceTree = sourceTree; self.installTree = installTree
            self.module = module; self.moduleVersion = moduleVersion
        }

        var environment: [String] {
            ["kernelver=\(kernelVersion)", "arch=\(arch)", "kernel_source_dir=\(kernelSourceDir)",
             "kernel_config=\(kernelSourceDir)/.config",
             "dkms_tree=\(dkmsTree)", "source_tree=\(sourceTree)", "install_tree=\(installTree)",
             "module=\(module)", "module_version=\(moduleVersion)"]
        }
    }

    public struct Evaluated: Equatable {
        public var raw: RawConf
        /// What the files printed on stderr (bash syntax errors, warnings).
        public var diagnostics: String
    }

    /// Runs bash with the given script arguments and returns its result.
    /// The host runner and the sandboxed runner both conform.
    public typealias ConfRunner = (_ argv: [String], _ environment: [String], _ cwd: String) -> Spawn.Result

    public static let hostRunner: ConfRunner = { argv, env, cwd in
        Spawn(argv, environment: env, cwd: cwd).runReportingFailure()
    }

    public var runner: ConfRunner
    /// Replays evaluations of pure files; nil evaluates every time.
    public var memo: ConfMemo?

    public init(runner: @escaping ConfRunner = ConfEvaluator.hostRunner, memo: ConfMemo? = nil) {
        self.runner = runner
        self.memo = memo
    }

    /// The bash program. Builtins are called through `builtin` so a dkms.conf
    /// that defines a function named `printf` cannot garble the record; its
    /// own stdout goes to /dev/null as in dkms's safe_source. Nothing forks
    /// and /dev/null is opened once (fd 4): the CRLF check reads the file
    /// with `read`, and the walk redirects to fd 4 (40 opens cost ~10 ms).
    static let script = #"""
    if [ -n "${__dkms_out:-}" ]; then exec 3>"$__dkms_out" 1>/dev/null; unset __dkms_out; else exec 3>&1 1>/dev/null; fi
    __dkms_kernelver=${kernelver-} __dkms_arch=${arch-}
    __dkms_conf=$1; shift
    __dkms_vars=$1; shift
    for __dkms_f in "$__dkms_conf" "$@"; do
        [ -e "$__dkms_f" ] || continue
        __dkms_text=
        IFS= builtin read -r -d '' __dkms_text < "$__dkms_f"
        if [[ $__dkms_text == *$'\r'* ]]; then
            builtin eval "${__dkms_text//$'\r'/}"
        else
            builtin unset __dkms_text
            builtin source "$__dkms_f"
        fi
    done
    builtin set +eu
    builtin shopt -u expand_aliases
    builtin unset -f exec
    exec 4>/dev/null 2>&4
    for __dkms_v in $__dkms_vars; do
        builtin declare -p "$__dkms_v" >&4 || continue
        builtin declare -n __dkms_r="$__dkms_v"
        builtin printf '%s\0%s\0' "$__dkms_v" "${#__dkms_r[@]}" >&3
        for __dkms_i in "${!__dkms_r[@]}"; do
            builtin printf '%s\0%s\0' "$__dkms_i" "${__dkms_r[$__dkms_i]}" >&3
        done
        builtin unset -n __dkms_r
    done
    __dkms_kv=${__dkms_kernelver-} __dkms_ar=${__dkms_arch-}
    IFS=$' \t\n'
    builtin set -f
    for __dkms_v in MAKE_MATCH PATCH_MATCH BUILD_EXCLUSIVE_KERNEL BUILD_EXCLUSIVE_ARCH; do
        builtin declare -p "$__dkms_v" >&4 || continue
        builtin declare -n __dkms_r="$__dkms_v"
        __dkms_s=$__dkms_kv
        [[ $__dkms_v == BUILD_EXCLUSIVE_ARCH ]] && __dkms_s=$__dkms_ar
        builtin printf '%s\0%s\0' "__dkms_matched_$__dkms_v" "${#__dkms_r[@]}" >&3
        for __dkms_i in "${!__dkms_r[@]}"; do
            __dkms_w=(${__dkms_r[$__dkms_i]})
            __dkms_m=0
            [[ $__dkms_s =~ ${__dkms_w[*]} ]] && __dkms_m=1
            builtin printf '%s\0%s\0' "$__dkms_i" "$__dkms_m" >&3
        done
        builtin unset -n __dkms_r
    done
    builtin printf 'END\0' >&3
    builtin exit 0
    """#

    /// Evaluates `confPath`, then each existing override file in order (dkms
    /// reads /etc/dkms/<module>.conf and its more specific siblings after it).
    public func evaluate(confPath: String, overrides: [String] = [], context: Context, cwd: String) throws -> Evaluated {
        guard FS.isRegularFile(confPath), access(confPath, R_OK) == 0 else {
            throw DKMSError(.missingConf, "Could not locate dkms.conf file.", "File: \(confPath) does not exist.")
        }
        // Capped before anything reads it (the root process digests it for
        // replays; the evaluation sources it): one line naming file and cap.
        for file in [confPath] + overrides where FS.exists(file) {
            if case .failure(let p) = ConfEvaluator.readCapped(file) {
                throw DKMSError(.badConf, "\(Printable.visible(file)) \(p.phrase(what: "a dkms.conf")); it was not read.")
            }
        }
        let argv = ["/bin/bash", "--noprofile", "--norc", "-c", ConfEvaluator.script, "dkms.conf",
                    confPath, ConfVariables.all.joined(separator: " ")] + overrides
        let env = ["PATH=/usr/bin:/bin:/usr/sbin:/sbin", "LC_ALL=C", "HOME=/nonexistent"] + context.environment
        let result = evaluateOrReplay(argv: argv, env: env, cwd: cwd, files: [confPath] + overrides)
        // The sandbox, not the file, failed: say so (a fine dkms.conf under a 0700 directory was
        // once blamed as "Bad conf file ... Permission denied").
        if let why = result.setupFailure {
            throw DKMSError(.failure, "Could not evaluate \(confPath): \(why)")
        }
        guard let raw = ConfEvaluator.parse(result.stdout) else {
            let detail = result.stderrText.split(separator: "\n").last.map(String.init) ?? "exit status \(result.status)"
            throw DKMSError(.badConf, "Bad conf file.", "File: \(confPath) does not represent a valid dkms.conf file. (evaluation did not complete: \(detail))")
        }
        return Evaluated(raw: raw, diagnostics: result.stderrText)
    }

    /// Runs the harness, or replays an earlier run of the same pure files
    /// with the same arguments. Only a complete record is kept, and only when
    /// the files did not change while they were evaluated.
    func evaluateOrReplay(argv: [String], env: [String], cwd: String, files paths: [String]) -> Spawn.Result {
        let read = { paths.map { (path: $0, bytes: try? ConfEvaluator.readCapped($0).get()) } }
        let known = Set(env.compactMap { $0.split(separator: "=", maxSplits: 1).first.map(String.init) })
        guard let memo, case let files = read(),
              let key = memo.key(argv: argv, environment: env, cwd: cwd, files: files, known: known) else {
            return runner(argv, env, cwd)
        }
        if let replayed = memo.load(key) { return replayed }
        let result = runner(argv, env, cwd)
        if result.status == 0, ConfEvaluator.parse(result.stdout) != nil, read().map(\.bytes) == files.map(\.bytes) {
            memo.store(key, result)
        }
        return result
    }

    /// The most a dkms.conf (or an override file) may hold: the conf
    /// evaluation's own file-size limit (sandbox-profiles/conf-eval.limits.json).
    public static let maxConfBytes = 1 << 20

    /// A dkms.conf's bytes: a regular file, its last component not
    /// followed (the directories above are the tree's), at most `maxConfBytes`.
    static func readCapped(_ path: String) -> Result<[UInt8], BoundedFile.Problem> {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return .failure(.opening(errno)) }
        defer { close(fd) }
        return BoundedFile.read(fd: fd, limit: maxConfBytes, requireSingleLink: false)
    }

    /// dkms reads each value back through an unquoted `echo` (safe_source),
    /// so a value is word-split on blanks and newlines and joined by single
    /// spaces: zfs's PRE_BUILD spans twenty lines and runs as one command.
    static func wordSplit(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0a }) else { return value }
        return value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).joined(separator: " ")
    }

    /// Decodes `name NUL count NUL (index NUL value NUL)* ... END NUL`.
    /// Returns nil when the stream is truncated (the file ran `exit`, or was killed).
    static func parse(_ bytes: [UInt8]) -> RawConf? {
        var fields: [String] = []
        var start = 0
        for i in 0..<bytes.count where bytes[i] == 0 {
            fields.append(String(decoding: bytes[start..<i], as: UTF8.self))
            start = i + 1
        }
        var raw = RawConf()
        var i = 0
        while i < fields.count {
            let name = fields[i]
            if name == "END" { return i == fields.count - 1 ? raw : nil }
            // The stream comes out of the sandbox (a dkms.conf can write to the
            // descriptor itself): a count that is negative or larger than what
            // follows is a malformed stream, not a trap.
            guard i + 1 < fields.count, let n = Int(fields[i + 1]), n >= 0, n <= (fields.count - i) / 2,
                  ConfVariables.all.contains(name) || ConfVariables.matched.contains(name) else { return nil }
            i += 2
            var entries: [Int: String] = [:]
            for _ in 0..<n {
                guard i + 1 < fields.count else { return nil }
                // Associative arrays have non-numeric keys; dkms ignores them too.
                if let idx = Int(fields[i]) { entries[idx] = wordSplit(fields[i + 1]) }
                i += 2
            }
            raw.values[name] = entries
        }
        return nil
    }
}
