import Glibc
import SafeFS

extension Engine {
    /// `dkms add`: register $source_tree/<m>-<v> (copying a given source
    /// directory there first) and link it into the tree.
    public mutating func add() throws {
        if let archive = context.invocation.archive, context.invocation.module == nil, context.invocation.moduleVersion == nil {
            // dkms's add_module: a tarball first (load_tarball), then the add.
            guard try unpackTarball(archive) else { return }
        } else if let path = context.invocation.sourcePath, context.invocation.module == nil {
            try addSourceTree(path)
        }
        let mv = try requireModuleArgs("add")
        try addModule(mv)
    }

    /// `beforeBuild`: the add a build or install does first (as dkms's
    /// prepare_build does). The file is then read through the tree's source
    /// link, as the build reads it right after, so one evaluation serves both
    /// (a dkms.conf that sources the kernel's .config costs ~50 ms each); if
    /// it is not valid, the link goes again and nothing is added.
    mutating func addModule(_ mv: ModuleVersion, beforeBuild: Bool = false) throws {
        if tree.isAdded(mv) {
            throw DKMSError(.alreadyInTree, "DKMS tree already contains: \(mv)",
                            "You cannot add the same module/version combo more than once.")
        }
        let src = tree.sourceDir(mv)
        guard FS.isDirectory(src) else {
            throw DKMSError(.missingSource, "Could not find module source directory.", "Directory: \(src) does not exist.")
        }
        let target = context.targets()[0]
        let viaTree = beforeBuild && context.invocation.conf == nil
        let conf: ModuleConfig
        if viaTree {
            let created = !FS.isDirectory(tree.versionDir(mv))
            try tree.linkSource(src, mv)
            do { conf = try confs.read(mv, target) } catch {
                unlink(tree.sourceLink(mv))
                if created { try? Files.removeTree(tree.versionDir(mv)); rmdir(tree.moduleDir(mv.name)) }
                throw error
            }
        } else {
            conf = try confs.read(mv, target, confPath: context.invocation.conf ?? "\(src)/dkms.conf")
        }
        out.line("Creating symlink \(tree.sourceLink(mv)) -> \(src)")
        if !viaTree { try tree.linkSource(src, mv) }
        try scripts.run(.postAdd, conf.postAdd, mv, target)
    }

    /// `dkms add <dir>`: read PACKAGE_NAME/VERSION from the directory's
    /// dkms.conf and copy it to $source_tree/<name>-<version>.
    ///
    /// The copy goes into a directory this call creates (mkdir, which fails
    /// on anything already there, a planted link included), never into an
    /// existing one: `<name>-<version>` is ambiguous (`foo`/`1-0` and
    /// `foo-1`/`0` share `foo-1-0`), so a directory already there that does
    /// not hold this same source is refused before anything is written. Links
    /// in the source are copied as links, never followed.
    mutating func addSourceTree(_ path: String) throws {
        guard let from = FS.realPath(path), FS.isRegularFile(from + "/dkms.conf") else {
            throw DKMSError(.badSourceTree, "\(Printable.visible(path)) must contain a dkms.conf file!")
        }
        guard !FS.isSymlink(from + "/dkms.conf") else {
            throw DKMSError(.badSourceTree, "\(Printable.visible(from))/dkms.conf is a symbolic link; it must be a file of the module source.")
        }
        let target = context.targets()[0]
        let conf: ModuleConfig
        do {
            conf = try confs.read(ModuleVersion("", ""), target, confPath: from + "/dkms.conf", strict: false)
        }
        let mv = ModuleVersion(conf.packageName, conf.packageVersion)
        for (what, s) in [("PACKAGE_NAME", mv.name), ("PACKAGE_VERSION", mv.version)] {
            if let p = NameRules.problem(inName: s) {
                throw DKMSError(.badConf, "Bad conf file.", "File: \(from)/dkms.conf: \(what) '\(Printable.visible(s))' \(p).")
            }
        }
        context.invocation.module = mv.name
        context.invocation.moduleVersion = mv.version
        let dest = tree.sourceDir(mv)
        // Already in place: nothing to copy.
        if from == dest || from == FS.realPath(tree.sourceLink(mv)) || from == FS.realPath(tree.buildDir(mv)) { return }
        if let st = FS.lstatInfo(dest) {
            let isDir = (st.st_mode & S_IFMT) == S_IFDIR
            if let owner = tree.sourceOwner(of: dest, except: mv) {
                throw DKMSError(.alreadyInTree, "\(dest) already exists: it is the source of \(Printable.visible(owner)) in the DKMS tree.",
                                "\(mv) cannot be copied there.")
            }
            if context.invocation.force {
                // --force replaces a module source (a directory with a
                // dkms.conf) or a link (removed, not followed), never anything
                // else that happens to have the name (kernel headers in /usr/src).
                let isLink = (st.st_mode & S_IFMT) == S_IFLNK
                guard isLink || (isDir && (FS.lstatInfo(dest + "/dkms.conf")?.st_mode).map({ $0 & S_IFMT == S_IFREG }) ?? false) else {
                    throw DKMSError(.alreadyInTree, "\(dest) already exists and is not a module source.",
                                    "\(mv) was not copied there; --force replaces only a module source.")
                }
                out.errorLine("")
                out.line("Forcing install of \(mv)")
                try Files.removeTree(dest)
            } else if isDir && TreeCopy.same(from, dest) {
                return
            } else {
                let what = isDir ? "a directory holding a different source" : (st.st_mode & S_IFMT) == S_IFLNK ? "a symbolic link" : "not a directory"
                throw DKMSError(.alreadyInTree, "\(dest) already exists and is \(what).",
                                "\(mv) was not copied there; remove it or use --force to replace it.")
            }
        }
        try Files.makeDirectories(tree.sourceTree)
        guard mkdir(dest, 0o755) == 0 else {
            throw DKMSError(.failure, "Cannot create directory \(dest): \(FS.errnoText())")
        }
        do {
            // Through descriptors only: no link in the source followed, bounded (TreeCopy).
            do { try TreeCopy.copy(from: from, into: dest) } catch let f as TreeCopy.Failure {
                throw DKMSError(.badSourceTree, "Cannot copy \(Printable.visible(from)) to \(dest): \(Printable.visible(f.description)).")
            }
            guard !FS.isSymlink(dest + "/dkms.conf"), FS.isRegularFile(dest + "/dkms.conf") else {
                throw DKMSError(.badSourceTree, "\(dest)/dkms.conf is not a regular file after the copy.")
            }
        } catch {
            try? Files.removeTree(dest)
            throw error
        }
    }

}
