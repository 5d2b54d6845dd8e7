import Glibc
import BuildCache
import SafeFS

extension Engine {
    /// `dkms verify m/v -k K`: rebuilds without the cache in a scratch tree
    /// and compares each module with the one in the tree (and the cache),
    /// naming the files that differ. A difference means an undeclared input
    /// or a non-deterministic build.
    public mutating func verify() throws {
        let mv = try requireModuleArgs("verify")
        try requireAdded(mv)
        var differing = 0
        for target in context.targets() {
            let k = target.version, a = target.arch
            guard tree.isBuilt(mv, target.build) else {
                out.line("Module \(mv) is not built for kernel \(k) (\(a)). Skipping...")
                continue
            }
            let scratch = try Staging.makeDirectory(in: tree.root, prefix: ".verify-")
            defer { try? Files.removeTree(scratch) }
            var inv = context.invocation
            inv.noCache = true
            inv.quiet = true
            inv.dkmsTree = scratch
            var sub = context
            sub.invocation = inv
            // The settings were resolved from the parent's command line: the rebuild's --no-cache is set there too.
            sub.settings.useCache = false
            sub.tree = DKMSTree(root: scratch, sourceTree: tree.sourceTree, installTree: tree.installTree)
            sub.output = Output(quiet: true)
            // Sign with this tree's key, so signed bytes are comparable too.
            let keys = signing.settings(for: target)
            sub.settings.mokSigningKey = keys.key
            sub.settings.mokCertificate = keys.certificate
            var engine = Engine(context: sub, evaluator: evaluator, environment: environment)
            try Files.makeDirectories(sub.tree.versionDir(mv))
            guard symlink(FS.realPath(tree.sourceLink(mv)) ?? tree.sourceLink(mv), sub.tree.sourceLink(mv)) == 0 else {
                throw DKMSError(.failure, "Cannot prepare \(scratch): \(FS.errnoText())")
            }
            out.line("Rebuilding \(mv) for kernel \(k) (\(a)) without the cache...")
            try engine.buildOne(mv, target)
            let fresh = sub.tree.builtModuleDir(mv, target.build)
            for name in tree.builtModuleFiles(mv, target.build) {
                // What the build produced is compared; signatures are not part of it.
                let ours = ModuleSignature.stripped(FS.readFile(tree.builtModuleDir(mv, target.build) + "/" + name) ?? [])
                let again = ModuleSignature.stripped(FS.readFile(fresh + "/" + name) ?? [])
                let a1 = SHA256.hash(bytes: ours).short, a2 = SHA256.hash(bytes: again).short
                if ours == again {
                    out.line("  \(name): identical (\(a1))")
                } else {
                    differing += 1
                    out.line("  \(name): DIFFERS (tree \(a1), rebuilt \(again.isEmpty ? "missing" : a2))")
                }
            }
        }
        if differing > 0 { throw DKMSError(.failure, "\(differing) module file(s) differ from a clean rebuild.") }
    }
}
