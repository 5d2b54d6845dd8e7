import Glibc

/// Whether the root process may run or read a file as its own (sign-file,
/// the signing key and certificate): the file, once every link is
/// resolved, and each directory above it are owned by root and writable by
/// no one else (a sticky directory, /tmp, counts as not writable: others
/// cannot replace root's entries there), and it lies in none of the places
/// module data lands (the caller names them).
public enum TrustedPath {
    /// nil when `path` is trusted; else why not (one phrase). `forbidden`:
    /// directories whose contents are never trusted (the source tree's
    /// module sources, the dkms tree's module entries). `mustExist: false`
    /// checks the directories only (a key about to be generated).
    public static func problem(_ path: String, forbidden: [String] = [], mustExist: Bool = true) -> String? {
        let resolved: String
        if let r = realpath(path, nil) {
            resolved = String(cString: r); free(r)
        } else if !mustExist, let slash = path.lastIndex(of: "/"), let r = realpath(String(path[..<slash]).isEmpty ? "/" : String(path[..<slash]), nil) {
            resolved = String(cString: r) + String(path[slash...]); free(r)
        } else {
            // Not even its directory: nothing there to trust or distrust (and nothing is made).
            return mustExist ? "it does not exist" : nil
        }
        for dir in forbidden {
            guard let d = realpath(dir, nil) else { continue }
            let real = String(cString: d); free(d)
            if resolved.hasPrefix(real == "/" ? "/" : real + "/") { return "it lies in \(real), where module data is written" }
        }
        var st = stat()
        if lstat(resolved, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFREG else { return "\(resolved) is not a regular file" }
            if let why = ownership(resolved, st, directory: false) { return why }
        } else if mustExist {
            return "\(resolved) does not exist"
        }
        var dir = resolved
        while let slash = dir.lastIndex(of: "/") {
            dir = slash == dir.startIndex ? "/" : String(dir[..<slash])
            guard lstat(dir, &st) == 0 else { return "\(dir) cannot be examined" }
            if let why = ownership(dir, st, directory: true) { return why }
            if dir == "/" { break }
        }
        return nil
    }

    static func ownership(_ path: String, _ st: stat, directory: Bool) -> String? {
        if st.st_uid != 0 { return "\(path) is owned by uid \(st.st_uid), not root" }
        let sticky = directory && st.st_mode & S_ISVTX != 0
        if st.st_mode & 0o022 != 0 && !sticky { return "\(path) is writable by others than root" }
        return nil
    }

    /// The directory holding a dkms.conf that `path` lies in, below `top`
    /// (a module source, whatever its name), or nil.
    public static func moduleSource(containing path: String, below top: String) -> String? {
        guard let r = realpath(path, nil) else { return nil }
        var dir = String(cString: r); free(r)
        guard let t = realpath(top, nil) else { return nil }
        let topReal = String(cString: t); free(t)
        while let slash = dir.lastIndex(of: "/"), dir.hasPrefix(topReal + "/") {
            dir = String(dir[..<slash])
            if dir == topReal { break }
            if access(dir + "/dkms.conf", F_OK) == 0 { return dir }
        }
        return nil
    }
}
