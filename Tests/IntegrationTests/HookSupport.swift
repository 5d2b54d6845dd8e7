import Foundation
import Glibc
import TestSupport

/// Where the integration files live in the repository.
enum Integration {
    static let scripts = Repo.root + "/scripts"
    static let alpmScript = scripts + "/hooks/alpm/dkms"
    static let installHook = scripts + "/hooks/alpm/70-dkms-install.hook"
    static let removeHook = scripts + "/hooks/alpm/71-dkms-remove.hook"
    static let upgradeHook = scripts + "/hooks/alpm/70-dkms-upgrade.hook"
    static let commonPostinst = scripts + "/debian/common.postinst"
    static let autoinstaller = scripts + "/debian/dkms_autoinstaller"
    static let systemTest = scripts + "/system-test.sh"
    /// The profiles the installer copies to /usr/share/dkms-swift/sandbox-profiles.
    static var sandboxProfiles: [String] {
        let dir = Repo.root + "/sandbox-profiles"
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { $0.hasSuffix(".json") }.sorted().map { dir + "/" + $0 }
    }
    static let postinst = scripts + "/hooks/kernel/postinst.d/dkms"
    static let headerPostinst = scripts + "/hooks/kernel/header_postinst.d/dkms"
    static let prerm = scripts + "/hooks/kernel/prerm.d/dkms"
    static let service = scripts + "/systemd/dkms.service"
    static let completion = scripts + "/completion/dkms.bash"
    static let manPage = scripts + "/man/dkms.8"
    static let installer = scripts + "/install-integration.sh"
}

/// An alpm hook file, read the way pacman reads it (alpm-hooks(5)): enough
/// of it to decide whether a transaction triggers it and with which targets.
struct AlpmHook {
    struct Trigger { var type = ""; var operations: [String] = []; var targets: [String] = [] }
    var triggers: [Trigger] = []
    var when = ""
    var exec = ""
    var needsTargets = false
    var description = ""

    init(path: String) {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        var section = ""
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("[") {
                section = line
                if section == "[Trigger]" { triggers.append(Trigger()) }
                continue
            }
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            let key = parts[0], value = parts.count > 1 ? parts[1] : ""
            switch (section, key) {
            case ("[Trigger]", "Type"): triggers[triggers.count - 1].type = value
            case ("[Trigger]", "Operation"): triggers[triggers.count - 1].operations.append(value)
            case ("[Trigger]", "Target"): triggers[triggers.count - 1].targets.append(value)
            case ("[Action]", "When"): when = value
            case ("[Action]", "Exec"): exec = value
            case ("[Action]", "NeedsTargets"): needsTargets = true
            case ("[Action]", "Description"): description = value
            default: break
            }
        }
    }

    /// pacman's target matching: fnmatch(3) without flags, later patterns
    /// win, a leading "!" excludes.
    static func matches(_ patterns: [String], _ path: String) -> Bool {
        var result = false
        for p in patterns {
            if p.hasPrefix("!") {
                if fnmatch(String(p.dropFirst()), path, 0) == 0 { result = false }
            } else if fnmatch(p, path, 0) == 0 { result = true }
        }
        return result
    }

    /// The targets pacman would hand the hook for a Path transaction of
    /// `operation` touching `files` (package file lists: relative paths,
    /// directories ending in "/"), sorted and without repeats; nil when the
    /// hook does not fire.
    func targets(operation: String, files: [String]) -> [String]? {
        var hits = Set<String>()
        for t in triggers where t.type == "Path" && t.operations.contains(operation) {
            for f in files where AlpmHook.matches(t.targets, f) { hits.insert(f) }
        }
        return hits.isEmpty ? nil : hits.sorted()
    }
}

/// Runs a command with `input` on its standard input.
func sh(_ argv: [String], input: String, env: [String: String] = [:]) -> Run {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("stdin-\(UUID().uuidString)").path
    _ = FileManager.default.createFile(atPath: file, contents: Data(input.utf8))
    defer { try? FileManager.default.removeItem(atPath: file) }
    return sh(["/bin/bash", "-c", "f=$1; shift; exec \"$@\" < \"$f\"", "_", file] + argv, env: env)
}

extension TestTrees {
    /// What the hook scripts need to act on these trees instead of the system's.
    var hookEnv: [String: String] {
        ["DKMS_BIN": Repo.dkms, "DKMS_ARGS": treeArgs.joined(separator: " "), "DKMS_CONFIG_DIR": configDir]
    }

    /// Plays a pacman transaction against one of our hooks: works out the
    /// targets with the hook's own triggers, then runs its Exec (mapped to
    /// the script in the repository) with the targets on stdin as
    /// NeedsTargets asks.  nil when the hook would not run.
    func pacman(_ hookPath: String, _ operation: String, files: [String]) -> Run? {
        let hook = AlpmHook(path: hookPath)
        guard let targets = hook.targets(operation: operation, files: files) else { return nil }
        var argv = hook.exec.split(separator: " ").map(String.init)
        if argv.first == "/usr/share/libalpm/scripts/dkms" { argv[0] = Integration.alpmScript }
        let input = hook.needsTargets ? targets.map { $0 + "\n" }.joined() : ""
        return sh(argv, input: input, env: hookEnv)
    }

    /// What the completions are tested on: foo 1.0 and 2.0 and bar 0.3 added, a directory
    /// without a source link (not an added module), and new-mod 3.1 in the source tree.
    func addCompletionFixtures() throws {
        let fm = FileManager.default
        for (m, v) in [("foo", "1.0"), ("foo", "2.0"), ("bar", "0.3")] {
            try fm.createDirectory(atPath: "\(dkmsTree)/\(m)/\(v)", withIntermediateDirectories: true)
            try fm.createSymbolicLink(atPath: "\(dkmsTree)/\(m)/\(v)/source", withDestinationPath: "\(sourceTree)/\(m)-\(v)")
        }
        try fm.createDirectory(atPath: "\(dkmsTree)/stray/1", withIntermediateDirectories: true)
        writeModule(at: sourceTree + "/new-mod-3.1", name: "newmod", conf: "PACKAGE_NAME=new-mod\nPACKAGE_VERSION=3.1\n")
    }

    /// A kernel directory in the install tree without headers.
    func addHeaderlessKernel(_ k: String) {
        try? FileManager.default.createDirectory(atPath: "\(installTree)/\(k)", withIntermediateDirectories: true)
    }

    /// The module file is there, compressed or not as the kernel's config says.
    func installed(_ module: String, _ k: String) -> Bool {
        FileManager.default.fileExists(atPath: "\(installTree)/\(k)/updates/dkms/\(module).ko\(Kernels.moduleSuffix(k))")
    }
}

/// The files of a -dkms package shipping /usr/src/<nameVersion>, as pacman lists them.
func dkmsPackageFiles(_ nameVersion: String) -> [String] {
    ["usr/", "usr/src/", "usr/src/\(nameVersion)/", "usr/src/\(nameVersion)/Makefile",
     "usr/src/\(nameVersion)/dkms.conf", "usr/src/\(nameVersion)/\(nameVersion).c"]
}

/// The files of a kernel package for kernel `k`.
func kernelPackageFiles(_ k: String) -> [String] {
    ["usr/", "usr/lib/", "usr/lib/modules/", "usr/lib/modules/\(k)/", "usr/lib/modules/\(k)/modules.order",
     "usr/lib/modules/\(k)/kernel/fs/ext4/ext4.ko.zst", "usr/lib/modules/\(k)/vmlinuz", "usr/lib/modules/\(k)/pkgbase"]
}

/// Drives the bash completion: `line` is what was typed, the cursor at its
/// end, split at blanks; returns COMPREPLY, one word per element.
func complete(_ line: String) -> [String] {
    let script = """
    source "$1"
    COMP_LINE=$2
    COMP_POINT=${#2}
    read -ra COMP_WORDS <<< "$2"
    [[ $2 == *' ' ]] && COMP_WORDS+=('')
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    _dkms dkms "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf '%s\\n' "${COMPREPLY[@]}"
    """
    let r = sh(["/bin/bash", "-c", script, "_", Integration.completion, line])
    return r.stdout.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
}

/// Drives the bash completion with COMP_WORDS given word by word, the way
/// readline splits them (so "--opt=value" arrives as "--opt", "=", "value");
/// the last word is the one being completed.
func complete(words: [String]) -> [String] {
    let script = """
    source "$1"; shift
    COMP_WORDS=("$@")
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    _dkms dkms "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf '%s\\n' "${COMPREPLY[@]}"
    """
    let r = sh(["/bin/bash", "-c", script, "_", Integration.completion] + words)
    return r.stdout.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
}
