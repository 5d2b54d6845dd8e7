import SafeFS
import ModuleTools
import Glibc

extension Engine {
    /// `dkms mktarball`: dkms 3.4's make_tarball. The source (or, with
    /// --binaries-only, dkms.conf alone) and the built modules of each kernel
    /// named go into `<m>-<v>-kernel<k>-<arch>[...].dkms.tar.gz` under
    /// `<tree>/<m>/<v>/tarball/`, or where --archive says; the layout is
    /// dkms's (dkms_main_tree/<k>/<arch>/, dkms_source_tree/,
    /// dkms_binaries_only/), so either dkms's ldtarball reads it.
    public mutating func makeTarball() throws {
        let mv = try requireModuleArgs("mktarball")
        if tree.isBroken(mv) {
            throw DKMSError(.broken, "\(mv) is broken!", "Missing the source directory or the symbolic link pointing to it.",
                            "Manual intervention is required!")
        }
        guard tree.isAdded(mv) else {
            throw DKMSError(.notInTree, "The module/version combo: \(mv) is not located in the DKMS tree.")
        }
        let targets = context.targets()
        // As dkms: a dkms.conf it cannot read stops it.
        _ = try confs.read(mv, targets[0], strict: false)
        let temp = try Staging.makeDirectory(in: try tree.stagingRoot(), prefix: "tarball-")
        defer { try? Files.removeTree(temp) }
        try Files.makeDirectories(temp + "/dkms_main_tree")
        var list = ""
        if context.invocation.sourceOnly {
            list = "source-only"
        } else {
            for t in targets {
                let built = tree.baseDir(mv, t.build)
                guard FS.isDirectory(built) else {
                    throw DKMSError(.tarballFailed, "No modules built for \(t.version) (\(t.arch)).",
                                    "Modules must already be in the built state before using mktarball.")
                }
                out.line("Marking modules for \(t.version) (\(t.arch)) for archiving...")
                list += (list.isEmpty ? "" : "-") + "kernel\(t.version)-\(t.arch)"
                let dest = "\(temp)/dkms_main_tree/\(t.version)/\(t.arch)"
                try Files.makeDirectories(dest)
                try TarballFiles.copy(built, into: dest)
            }
        }
        let source = tree.sourceLink(mv)
        if context.invocation.binariesOnly {
            out.line("")
            out.line("Creating tarball structure to specifically accommodate binaries.")
            let dir = temp + "/dkms_binaries_only"
            try Files.makeDirectories(dir)
            try Staging.writeFile(dir + "/PACKAGE_NAME", Array((mv.name + "\n").utf8))
            try Staging.writeFile(dir + "/PACKAGE_VERSION", Array((mv.version + "\n").utf8))
            let confFile = context.invocation.conf ?? source + "/dkms.conf"
            if let bytes = FS.readFile(confFile) { try Staging.writeFile(dir + "/dkms.conf", bytes) }
        } else {
            out.line("")
            out.line("Marking \(source) for archiving...")
            try Files.makeDirectories(temp + "/dkms_source_tree")
            try TarballFiles.copy(source, into: temp + "/dkms_source_tree")
        }
        if list.count + 1 > 200 { list = "manykernels" }
        var name = "\(mv.name)-\(mv.version)-\(list).dkms.tar.gz"
        var dest = tree.versionDir(mv) + "/tarball/"
        if let archive = context.invocation.archive, !archive.isEmpty {
            if let slash = archive.lastIndex(of: "/") {
                name = String(archive[archive.index(after: slash)...])
                dest = String(archive[..<slash])
            } else {
                name = archive
            }
        }
        out.line("")
        // dkms's own text, double slash included for the default place.
        out.line("Tarball location: \(dest)/\(name)")
        if !FS.isDirectory(dest) {
            do { try Files.makeDirectories(dest) } catch { throw DKMSError(.notWritable, "Missing write permissions for \(dest).") }
        }
        guard access(dest, W_OK) == 0 else { throw DKMSError(.notWritable, "Missing write permissions for \(dest).") }
        let r = Spawn.hostTool(["tar", "-C", temp, "-caf", "\(dest)/\(name)", "."])
        guard r.succeeded else { throw DKMSError(.tarballFailed, "Failed to make tarball.") }
    }
}

extension Engine {
    /// `dkms ldtarball TARBALL` (and `dkms add TARBALL`): dkms 3.4's
    /// load_tarball, then add. A tarball mktarball made (dkms_source_tree/ or
    /// dkms_binaries_only/, and dkms_main_tree/<k>/<arch>/ of built modules),
    /// or any tarball with a dkms.conf in it (its directory is the source).
    /// Unlike dkms, the archive is listed first and refused when a member
    /// is absolute, goes up with "..", or is a device, fifo or hard link;
    /// and every precompiled module is checked as a build's output is (ELF
    /// relocatable object for the arch, vermagic of the kernel it is filed
    /// under) before it enters the tree.
    public mutating func loadTarball() throws {
        if geteuid() != 0 && context.invocation.force {
            throw DKMSError(.failure, "You must be root to use this command with the --force option.")
        }
        guard let archive = context.invocation.archive, !archive.isEmpty else {
            throw DKMSError(.badArgument, "Argument <tarball> is not specified.", "Usage: ldtarball <tarball> or ldtarball --archive=<tarball>")
        }
        if try unpackTarball(archive) {
            let mv = try requireModuleArgs("add")
            try addModule(mv)
        }
    }

    /// Returns whether the module is to be added afterwards (dkms: a source
    /// tree was loaded, not a binaries-only stub).
    mutating func unpackTarball(_ archive: String) throws -> Bool {
        guard FS.exists(archive) else { throw DKMSError(.missingArchive, "\(archive) does not exist.") }
        if archive.hasSuffix(".rpm") { throw DKMSError(.rpmUnsupported, "Unable to install \(archive): .rpm archives are not supported by this dkms.") }
        let listing = Spawn.hostTool(["tar", "-taf", archive])
        guard listing.succeeded else { throw DKMSError(.malformedArchive, "Cannot read \(archive): \(listing.stderrText.trimmingCharacters(in: "\n"))") }
        for member in listing.stdoutText.split(separator: "\n") {
            let parts = member.split(separator: "/")
            if member.hasPrefix("/") || parts.contains("..") {
                throw DKMSError(.malformedArchive, "\(archive) holds '\(Printable.visible(String(member)))': absolute or with '..'; not loaded.")
            }
        }
        let verbose = Spawn.hostTool(["tar", "-tvaf", archive])
        for line in verbose.stdoutText.split(separator: "\n") where !(line.first == "-" || line.first == "d" || line.first == "l") {
            throw DKMSError(.malformedArchive, "\(archive) holds a member that is neither a file, a directory nor a symbolic link; not loaded.")
        }
        let temp = try Staging.makeDirectory(in: try tree.stagingRoot(), prefix: "ldtarball-")
        defer { try? Files.removeTree(temp) }
        let x = Spawn.hostTool(["tar", "--no-same-owner", "-xaf", archive, "-C", temp])
        guard x.succeeded else { throw DKMSError(.malformedArchive, "Cannot unpack \(archive): \(x.stderrText.trimmingCharacters(in: "\n"))") }

        if !FS.isDirectory(temp + "/dkms_main_tree") {
            // Not mktarball's: the first dkms.conf found names the source.
            guard let conf = TarballFiles.findFile(named: "dkms.conf", under: temp) else {
                throw DKMSError(.malformedArchive, "Tarball does not appear to be a correctly formed DKMS archive. No dkms.conf found within it.")
            }
            try addSourceTree(String(conf.dropLast("dkms.conf".count)))
            return true
        }
        var loc = ""
        var found = ModuleVersion("", "")
        for candidate in ["dkms_source_tree", "dkms_binaries_only"] {
            let conf = "\(temp)/\(candidate)/dkms.conf"
            guard FS.isRegularFile(conf), !FS.isSymlink(conf) else { continue }
            guard let c = try? confs.read(ModuleVersion("", ""), context.targets()[0], confPath: conf, strict: false),
                  !c.packageName.isEmpty, !c.packageVersion.isEmpty else {
                out.errorLine("")
                out.errorLine("Malformed dkms.conf, refusing to load.")
                continue
            }
            let named = ModuleVersion(c.packageName, c.packageVersion)
            if tree.isAdded(named) && !context.invocation.force {
                throw DKMSError(.alreadyAdded, "\(named) is already added!", "Aborting.")
            }
            (loc, found) = (candidate, named)
            break
        }
        guard !loc.isEmpty else {
            throw DKMSError(.invalidTarball, "No valid dkms.conf in dkms_source_tree or dkms_binaries_only.", "\(archive) is not a valid DKMS tarball.")
        }
        context.invocation.module = found.name
        context.invocation.moduleVersion = found.version
        out.line("")
        out.line("Loading tarball for \(found)")
        if loc == "dkms_source_tree" {
            try addSourceTree(temp + "/dkms_source_tree")
        } else if !FS.isDirectory(tree.sourceDir(found)) {
            let source = tree.sourceLink(found)
            out.line("Creating \(source)")
            try Files.makeDirectories(source)
            out.line("Copying dkms.conf to \(source) ...")
            try Staging.writeFile(source + "/dkms.conf", FS.readFile("\(temp)/dkms_binaries_only/dkms.conf") ?? [])
        }
        // The precompiled modules, kernel by kernel.
        for k in FS.list(temp + "/dkms_main_tree").sorted() where NameRules.problem(inKernel: k) == nil {
            for a in FS.list("\(temp)/dkms_main_tree/\(k)").sorted() where NameRules.problem(inKernel: a) == nil {
                let from = "\(temp)/dkms_main_tree/\(k)/\(a)"
                guard FS.isDirectory(from), !FS.isSymlink(from) else { continue }
                let dest = tree.baseDir(found, BuildTarget(k, a))
                if FS.exists(dest) && !context.invocation.force {
                    out.warn("\(dest) already exists. Skipping...")
                    continue
                }
                for file in FS.list(from + "/module") where ModuleFileName.isModule(file) {
                    try TarballFiles.checkPrecompiled("\(from)/module/\(file)", kernel: k, arch: a)
                }
                out.line("Loading \(dest)...")
                try Files.removeTree(dest)
                try Files.makeDirectories(dest)
                try TarballFiles.copy(from, into: dest)
            }
        }
        return loc != "dkms_binaries_only" || FS.isDirectory(tree.sourceDir(found))
    }


}
