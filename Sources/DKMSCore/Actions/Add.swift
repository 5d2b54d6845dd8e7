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

    mutating func addModule(_ m: String, _ v: String) throws {
        if tree.isAdded(m, v) {
            throw DKMSError(3, "DKMS tree already contains: \(m)/\(v)",
                            "You cannot add the same module/version combo more than once.")
        }
        let src = tree.sourceDir(m, v)
        guard FS.isDirectory(src) else {
            throw DKMSError(2, "Could not find module source directory.", "Directory: \(src) does not exist.")
        }
        let target = context.targets()[0]
        let conf = try readConf(m, v, target, confPath: context.invocation.conf ?? "\(src)/dkms.conf")
        if conf.modules.isEmpty { out.errorLine("dkms.conf: Warning! Zero modules specified.") }
        out.line("Creating symlink \(tree.sourceLink(m, v)) -> \(src)")
        try Files.makeDirectories(tree.buildDir(m, v))
        guard symlink(src, tree.sourceLink(m, v)) == 0 else {
            throw DKMSError(1, "Could not create \(tree.sourceLink(m, v)): \(FS.errnoText())")
        }
        try runScript(.postAdd, conf.postAdd, m, v, target)
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
