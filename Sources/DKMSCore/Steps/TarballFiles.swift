import ModuleTools
import Glibc
import SafeFS

/// The files of a dkms tarball, in and out: copied through no link,
/// searched without following one, precompiled modules checked.
enum TarballFiles {
    /// A precompiled module from a tarball: a regular file (after
    /// decompression when it is compressed) that ModuleCheck accepts for the
    /// kernel and arch it is filed under.
    static func checkPrecompiled(_ path: String, kernel: String, arch: String) throws {
        guard FS.isRegularFile(path), !FS.isSymlink(path) else {
            throw DKMSError(.invalidTarball, "Precompiled module \(path) is not a regular file; the tarball is not loaded.")
        }
        var plain = path
        var scratch: String?
        defer { if let s = scratch { unlink(s) } }
        if !path.hasSuffix(".ko") {
            guard let bytes = try? Compressor().decompressed(path, limit: ModuleCheck.maxSize) else {
                throw DKMSError(.invalidTarball, "Precompiled module \(path) cannot be decompressed; the tarball is not loaded.")
            }
            let s = path + ".dkms-check"
            try Staging.writeFile(s, bytes)
            scratch = s
            plain = s
        }
        do { _ = try ModuleCheck.read(plain, kernel: kernel, arch: arch, read: { BoundedFile.read($0, limit: $1) }) } catch let e as DKMSError {
            throw DKMSError(.invalidTarball, "Precompiled module \(path): \(e.lines.first ?? "not a module"); the tarball is not loaded.")
        }
    }

    static func findFile(named name: String, under root: String) -> String? {
        var stack = [root]
        while let dir = stack.popLast() {
            for entry in FS.list(dir).sorted() {
                let p = dir + "/" + entry
                if entry == name && FS.isRegularFile(p) && !FS.isSymlink(p) { return p }
                if FS.isDirectory(p) && !FS.isSymlink(p) { stack.append(p) }
            }
        }
        return nil
    }

    /// A tree copied for a tarball, in either direction (a module's source or
    /// build going in, an archive's contents coming out): through SafeFS's
    /// descriptor walk, which follows no link and is bounded.
    static func copy(_ from: String, into: String) throws {
        do { try TreeCopy.copy(from: from, into: into) } catch {
            throw DKMSError(.failure, "Cannot copy \(from) to \(into): \(error)")
        }
    }
}
