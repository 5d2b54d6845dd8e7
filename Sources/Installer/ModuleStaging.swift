import ModuleTools
#if canImport(Glibc)
import Glibc
#endif

/// Produces the exact bytes to install: a private copy of each built module,
/// signed (uncompressed) and then compressed for the target kernel.
///
/// Work happens in `$dkms_tree/.staging/<id>/` — never on the built files in the
/// dkms tree (they must stay reusable for other kernels/settings) and never in the
/// install tree (nothing there may be half-done). Recovery deletes leftovers.
public struct ModuleStaging {
    public struct Prepared: Equatable, Sendable {
        /// Module name without suffixes ("hello").
        public var name: String
        /// Path of the finished file in the staging area ("…/hello.ko.xz").
        public var path: String
        public var fileName: String { FS.basename(path) }
    }

    public let directory: String
    public var compressor: Compressor

    public static func root(dkmsTree: String) -> String { FS.join(dkmsTree, ".staging") }

    public init(dkmsTree: String, id: String, compressor: Compressor = Compressor()) {
        directory = FS.join(ModuleStaging.root(dkmsTree: dkmsTree), id)
        self.compressor = compressor
    }

    /// Copies, signs (when `signing` says so) and compresses each file.
    public func prepare(files: [String], compression: ModuleCompression,
                        signer: Signer?, signing: SigningDecision?) throws -> [Prepared] {
        for d in FS.missingDirectories(directory) { try FS.makeDirectory(d, mode: 0o700) }
        var out: [Prepared] = []
        for file in files {
            let base = FS.basename(file)
            guard let name = ModuleCompression.moduleName(fileName: base) else {
                throw InstallerError.invalidArgument("\(file): not a kernel module file name (*.ko, *.ko.xz, *.ko.zst, *.ko.gz)")
            }
            let copy = FS.join(directory, base)
            try FS.unlinkIfPresent(copy)
            let fd = try FS.copyToNewFile(from: file, to: copy, mode: 0o644)
            try FS.syncAndClose(fd, path: copy)
            var current = copy
            let sign: Bool
            if case .sign? = signing { sign = true } else { sign = false }
            if ModuleCompression.of(fileName: current) != compression || sign {
                current = try compressor.decompress(current)
            }
            if sign, let signer, let signing { try signer.sign(current, decision: signing) }
            if ModuleCompression.of(fileName: current) != compression {
                current = try compressor.compress(current, as: compression)
            }
            out.append(Prepared(name: name, path: current))
        }
        return out
    }

    /// Deletes this staging area (after the transaction, committed or not).
    public func discard() {
        try? FS.removeTree(directory)
    }
}
