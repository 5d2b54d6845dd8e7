import SafeFS

/// `$dkms_tree/.staging/`: a command's scratch files (the `.origin` notes an
/// install journals in, tarball work). Nothing there is state — the tree's files
/// never point into it — so under the tree lock, where no other command is in
/// progress, `Recovery` deletes whatever a crash left in it.
public enum ModuleStaging {
    public static func root(dkmsTree: String) -> String { FS.join(dkmsTree, ".staging") }
}
