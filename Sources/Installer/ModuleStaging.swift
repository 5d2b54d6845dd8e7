import SafeFS

/// `$dkms_tree/.staging/`: where a command prepares files (signed and compressed
/// copies, notes) before a transaction installs them. Nothing there is state —
/// the tree's files never point into it — so under the tree lock, where no other
/// command is in progress, `Recovery` deletes whatever a crash left in it.
public enum ModuleStaging {
    public static func root(dkmsTree: String) -> String { FS.join(dkmsTree, ".staging") }
}
