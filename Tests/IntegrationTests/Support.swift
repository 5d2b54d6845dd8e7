import XCTest
import Foundation
import DKMSCore
import TestSupport

extension Repo {
    /// The `dkms` built beside the test bundle.
    static let dkms = Repo.product("dkms")
    static let debianModules = root + "/.cache/debian-modules"
}

/// A hermetic set of trees: a dkms tree, a source tree and an install tree
/// laid out as <root>/lib/modules/<kernel> with the real headers linked in,
/// so depmod can run with -b <root>.
final class TestTrees {
    let base: String
    /// dkms's own default trees (/var/lib/dkms, /usr/src, /lib/modules, no tree
    /// options), for a suite re-run inside scripts/lib/isolated-trees.sh with
    /// DKMS_TEST_DEFAULT_TREES=1: there they are the run's own.
    let isDefault: Bool
    var dkmsTree: String { isDefault ? "/var/lib/dkms" : base + "/tree" }
    var sourceTree: String { isDefault ? "/usr/src" : base + "/src" }
    var root: String { isDefault ? "/" : base + "/root" }
    var installTree: String { isDefault ? "/lib/modules" : root + "/lib/modules" }
    var configDir: String { base + "/etc-dkms" }
    /// What the default trees held before: cleanup removes only what came after.
    private var defaultTreesBefore: Set<String> = []

    /// Builds of the same inputs are shared through one build cache for the
    /// whole test run (they are hits after the first); tests about the cache
    /// itself get a private one.
    static let sharedCache = FileManager.default.temporaryDirectory.appendingPathComponent("dkms-it-cache-\(getpid())").path

    /// True only inside isolated-trees.sh (its tmpfs is /var/lib/dkms) when asked
    /// for: never the host's trees.
    static let useDefaultTrees: Bool = {
        guard ProcessInfo.processInfo.environment["DKMS_TEST_DEFAULT_TREES"] == "1" else { return false }
        let mountinfo = read("/proc/self/mountinfo")
        let isolated = mountinfo.split(separator: "\n").contains { $0.contains(" /var/lib/dkms ") && $0.contains(" isolated-dkms-tree ") }
        precondition(isolated, "DKMS_TEST_DEFAULT_TREES=1 outside scripts/lib/isolated-trees.sh: refusing to use the host's trees")
        return true
    }()

    init(kernels: [String] = Kernels.all, sharedCache: Bool = true) {
        base = FileManager.default.temporaryDirectory.appendingPathComponent("dkms-it-\(UUID().uuidString.prefix(8))").path
        isDefault = TestTrees.useDefaultTrees
        let fm = FileManager.default
        for d in [dkmsTree, sourceTree, installTree, configDir] { try! fm.createDirectory(atPath: d, withIntermediateDirectories: true) }
        if sharedCache {
            fm.createFile(atPath: configDir + "/framework.conf", contents: Data("cache_dir=\(TestTrees.sharedCache)\n".utf8))
        }
        if isDefault {
            defaultTreesBefore = TestTrees.defaultTreesListing()
            return
        }
        for k in kernels {
            try! fm.createDirectory(atPath: "\(installTree)/\(k)", withIntermediateDirectories: true)
            // build and, where the headers package has one, source (zfs's configure reads it).
            for link in ["build", "source"] where (try? fm.destinationOfSymbolicLink(atPath: "/lib/modules/\(k)/\(link)")) != nil {
                try! fm.createSymbolicLink(atPath: "\(installTree)/\(k)/\(link)", withDestinationPath: "/lib/modules/\(k)/\(link)")
            }
            fm.createFile(atPath: "\(installTree)/\(k)/modules.dep", contents: Data())
        }
    }

    /// The entries of the default trees a test may add to: /var/lib/dkms and
    /// /usr/src's top level, and each kernel's directory in /lib/modules three
    /// levels deep (updates/dkms, kernel/drivers/<dir>, modules.*), links not followed.
    static func defaultTreesListing() -> Set<String> {
        let r = sh(["/bin/sh", "-c", "find /var/lib/dkms /usr/src -mindepth 1 -maxdepth 1; find /lib/modules/ -mindepth 1 -maxdepth 4"])
        return Set(r.stdout.split(separator: "\n").map(String.init))
    }

    /// Where module files of dkms's own may be: the dkms tree and each kernel's updates/.
    var moduleFileRoots: [String] {
        isDefault ? [dkmsTree] + ((try? FileManager.default.contentsOfDirectory(atPath: installTree)) ?? []).map { "\(installTree)/\($0)/updates" }
                  : [dkmsTree, installTree]
    }

    var treeArgs: [String] { isDefault ? [] : ["--dkmstree", dkmsTree, "--sourcetree", sourceTree, "--installtree", installTree] }

    /// Runs our dkms on these trees.
    func dkms(_ args: String..., extraEnv: [String: String] = [:]) -> Run { dkms(args, extraEnv: extraEnv) }
    func dkms(_ args: [String], extraEnv: [String: String] = [:]) -> Run {
        var env = ["DKMS_CONFIG_DIR": configDir]
        for (k, v) in extraEnv { env[k] = v }
        return sh([Repo.dkms] + args + treeArgs, env: env)
    }

    /// Copies a module source directory into the source tree as <name>-<version>.
    func addSource(_ dir: String, as nameVersion: String) {
        _ = sh(["cp", "-a", dir, sourceTree + "/" + nameVersion])
    }

    func cleanup() {
        try? FileManager.default.removeItem(atPath: base)
        if isDefault {
            let added = TestTrees.defaultTreesListing().subtracting(defaultTreesBefore).sorted().reversed()
            for path in added { _ = sh(["rm", "-rf", "--one-file-system", path]) }
        }
    }
}

/// Writes a small module source with the given dkms.conf and C body.
func writeModule(at dir: String, name: String, conf: String, extraFiles: [String: String] = [:]) {
    let fm = FileManager.default
    try! fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
    // dkms 3.4 (and 3.0) need a module record with its DEST_MODULE_LOCATION: a conf naming
    // neither gets the one module this writes, as real packages declare it.
    var conf = conf
    if !conf.contains("BUILT_MODULE_NAME") && !conf.contains("DEST_MODULE_NAME") && !conf.contains("BUILT_MODULE_LOCATION") {
        conf += "\nBUILT_MODULE_NAME[0]=\(name)\n"
    }
    if !conf.contains("DEST_MODULE_LOCATION") { conf += "\nDEST_MODULE_LOCATION[0]=/updates/dkms\n" }
    fm.createFile(atPath: dir + "/dkms.conf", contents: Data(conf.utf8))
    fm.createFile(atPath: dir + "/Makefile", contents: Data("obj-m := \(name).o\n".utf8))
    let c = """
    #include <linux/module.h>
    static int __init m_init(void) { return 0; }
    static void __exit m_exit(void) {}
    module_init(m_init);
    module_exit(m_exit);
    MODULE_LICENSE("GPL");
    """
    fm.createFile(atPath: "\(dir)/\(name).c", contents: Data(c.utf8))
    for (n, text) in extraFiles {
        let p = dir + "/" + n
        try! fm.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        fm.createFile(atPath: p, contents: Data(text.utf8))
        if n.hasSuffix(".sh") { _ = sh(["chmod", "+x", p]) }
    }
}

func sha256(_ path: String) -> String {
    String(sh(["sha256sum", path]).stdout.prefix(64))
}

/// SHA-256 of a module without its appended signature (each test tree
/// signs with its own generated key).
func unsignedSHA256(_ path: String) -> String {
    guard let data = FileManager.default.contents(atPath: path) else { return "missing \(path)" }
    let bytes = ModuleSignature.stripped(Array(data))
    let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("unsigned-\(UUID().uuidString)").path
    FileManager.default.createFile(atPath: tmp, contents: Data(bytes))
    defer { try? FileManager.default.removeItem(atPath: tmp) }
    return sha256(tmp)
}

func modinfo(_ field: String, _ path: String) -> String {
    sh(["modinfo", "-F", field, path]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
}
