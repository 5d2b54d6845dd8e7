import Sandbox
import Glibc

/// How a sandbox that could not be set up is reported: as the sandbox's
/// own one-line message, never as a fault of the module (a "Bad conf file"
/// for a dkms.conf that was never read). Where no namespace can be made at
/// all, the line says how to opt out; dkms never falls back to running
/// module code unconfined by itself.
enum SandboxFailure {
    static func describe(_ error: Error, configDir: String) -> String {
        if case SandboxError.namespacesUnavailable = error {
            return "\(error); set sandbox=no in \(configDir)/framework.conf or pass --no-sandbox to build unconfined"
        }
        return "\(error)"
    }

    /// Why the sandbox's uid (no groups, no capability over host files) cannot
    /// read `file` once `top` is shown to it (the supervisor hands it `top`
    /// itself, so what lies above does not matter), or nil.
    static func unreadable(_ file: String, below top: String, idMap: SandboxSpec.IDMap) -> String? {
        guard file.hasPrefix(top + "/") else { return nil }
        var path = top
        var checks: [(String, mode_t)] = [(top, 0o1)]
        for comp in file.dropFirst(top.count + 1).split(separator: "/") {
            path += "/" + comp
            checks.append((path, path == file ? 0o4 : 0o1))
        }
        for (p, want) in checks {
            var st = stat()
            guard stat(p, &st) == 0 else { return nil } // missing: reported where it is used
            let shift: mode_t = st.st_uid == idMap.outsideUID ? 6 : st.st_gid == idMap.outsideGID ? 3 : 0
            if (st.st_mode >> shift) & want == 0 {
                return "sandbox: \(p) is not \(want == 0o4 ? "readable" : "searchable") by the sandbox's uid \(idMap.outsideUID) "
                    + "(mode \(String(st.st_mode & 0o7777, radix: 8)), owner \(st.st_uid)); make it so (chmod a+rX) or build with --no-sandbox"
            }
        }
        return nil
    }
}
