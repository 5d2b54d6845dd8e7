import Foundation
import TestSupport

/// Debian's dkms 3.0, run against a test's trees. It keeps its signing key
/// at /var/lib/dkms/mok.* whatever --dkmstree says, and runs depmod on the
/// host's /lib/modules; so it runs in a private mount namespace with a
/// scratch /etc/dkms that moves the key, and always with --no-depmod.
struct ReferenceDKMS {
    let trees: TestTrees

    var etc: String { trees.base + "/ref-etc-dkms" }

    func prepare() {
        let fm = FileManager.default
        try? fm.createDirectory(atPath: etc + "/framework.conf.d", withIntermediateDirectories: true)
        let conf = "mok_signing_key=\(trees.base)/ref-mok.key\nmok_certificate=\(trees.base)/ref-mok.pub\n"
        fm.createFile(atPath: etc + "/framework.conf", contents: Data(conf.utf8))
    }

    func callAsFunction(_ args: String...) -> Run {
        prepare()
        let quoted = (["/usr/sbin/dkms"] + args + trees.treeArgs).map { "'\($0)'" }.joined(separator: " ")
        let script = "mount --bind '\(etc)' /etc/dkms && exec \(quoted)"
        return sh(["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/bash", "-c", script])
    }
}
