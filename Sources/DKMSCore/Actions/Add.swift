import Glibc

extension Engine {
    /// `dkms add`: register $source_tree/<m>-<v> (copying a given source
    /// directory there first) and link it into the tree.
    public mutating func add() throws {
        if let path = context.invocation.sourcePath, context.invocation.module == nil {
            try addSourceTree(path)
        }
        let (m, v) = try requireModuleArgs("add")
        try addModule(m, v)
    }

    /// `beforeBuild`: the add a build or install does first (as dkms's
    /// prepare_build does). The file is then read through the tree's source
    /// link, as the build reads it right after, so one evaluation serves both
    /// (a dkms.conf that sources the kernel's .config costs ~50 ms each); if
    /// it is not valid, the link goes again and nothing is added.
    mutating func addModule(_ m: String, _ v: String, beforeBuild: Bool = false) throws {
        if tree.isAdded(m, v) {
            throw DKMSError(3, "DKMS tree already contains: \(m)/\(v)",
                            "You cannot add the same module/version combo more than once.")
        }
        let src = tree.sourceDir(m, v)
        guard FS.isDirectory(src) else {
            throw DKMSError(2, "Could not find module source directory.", "Directory: \(src) does not exist.")
        }
        let target = context.targets()[0]
        let viaTree = beforeBuild && context.invocation.conf == nil
        let conf: ModuleConfig
        if viaTree {
            let created = !FS.isDirectory(tree.versionDir(m, v))
            try link(src, m, v)
            do { conf = try readConf(m, v, target) } catch {
                unlink(tree.sourceLink(m, v))
                if created { try? Files.removeTree(tree.versionDir(m, v)); rmdir(tree.moduleDir(m)) }
                throw error
            }
        } else {
            conf = try readConf(m, v, target, confPath: context.invocation.conf ?? "\(src)/dkms.conf")
        }
        if conf.modules.isEmpty { out.errorLine("dkms.conf: Warning! Zero modules specified.") }
        out.line("Creating symlink \(tree.sourceLink(m, v)) -> \(src)")
        if !viaTree { try link(src, m, v) }
        try runScript(.postAdd, conf.postAdd, m, v, target)
    }

    private func link(_ src: String, _ m: String, _ v: String) throws {
        try Files.makeDirectories(tree.buildDir(m, v))
        guard symlink(src, tree.sourceLink(m, v)) == 0 else {
            throw DKMSError(1, "Could not create \(tree.sourceLink(m, v)): \(FS.errnoText())")
        }
    }

    /// `dkms add <dir>`: read PACKAGE_NAME/VERSION from the directory's
    /// dkms.conf and copy it to $source_tree/<name>-<version>.
    mutating func addSourceTree(_ path: String) throws {
        guard let from = FS.realPath(path), FS.isRegularFile(from + "/dkms.conf") else {
            throw DKMSError(9, "\(path) must contain a dkms.conf file!")
        }
        let target = context.targets()[0]
        let conf: ModuleConfig
        do {
            conf = try readConf("", "", target, confPath: from + "/dkms.conf")
        }
        let (m, v) = (conf.packageName, conf.packageVersion)
        for (what, s) in [("PACKAGE_NAME", m), ("PACKAGE_VERSION", v)] {
            if let p = NameRules.problem(inComponent: s) {
                throw DKMSError(8, "Bad conf file.", "File: \(from)/dkms.conf: \(what) '\(s)' \(p).")
            }
        }
        context.invocation.module = m
        context.invocation.moduleVersion = v
        let dest = tree.sourceDir(m, v)
        if context.invocation.force && FS.isDirectory(dest) && from != dest {
            out.errorLine("")
            out.line("Forcing install of \(m)/\(v)")
            try Files.removeTree(dest)
        }
        if from == dest || from == FS.realPath(tree.sourceLink(m, v)) { return }
        try Files.makeDirectories(dest)
        try Files.copyContents(of: from, into: dest)
    }
}
