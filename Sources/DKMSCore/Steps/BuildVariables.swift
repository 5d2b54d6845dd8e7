import Glibc
import SafeFS
import Foundation

/// What a module's commands are given: their environment and the make
/// command line, from the run's settings and the target kernel's .config.
struct BuildVariables {
    let context: Context
    var tree: DKMSTree { context.tree }

    /// The environment every module command sees: fixed, with the variables
    /// dkms defines and the settings that make builds reproducible.
    ///
    /// `withoutDebugInfo`: every module of the build is stripped of its debug
    /// info afterwards (STRIP, yes by default, as dkms does with `strip -g`),
    /// so the compiler is not asked to produce it: `-g0` comes after the
    /// kernel's `-g` in KCFLAGS. Stripped, the module has the same sections
    /// and code (only its build id and the order of `__versions` differ);
    /// a Debian kernel's debug info is a tenth of the compile time. Not on a
    /// kernel with BTF for modules (CONFIG_DEBUG_INFO_BTF_MODULES: Arch,
    /// Fedora, Ubuntu, Debian's 6.12): kbuild's pahole turns each module's
    /// DWARF into its .BTF section, and fails when there is none.
    func variables(_ mv: ModuleVersion, _ target: KernelTarget, withoutDebugInfo: Bool = false) -> [String] {
        let withoutDebugInfo = withoutDebugInfo && !kernelNeedsModuleDebugInfo(target)
        var env = ["PATH=/usr/bin:/bin:/usr/sbin:/sbin", "LC_ALL=C", "LANG=C", "TZ=UTC", "HOME=/nonexistent", "TMPDIR=/tmp",
                   "SOURCE_DATE_EPOCH=0", "KBUILD_BUILD_TIMESTAMP=Thu Jan  1 00:00:00 UTC 1970",
                   "KBUILD_BUILD_USER=dkms", "KBUILD_BUILD_HOST=dkms",
                   "kernelver=\(target.version)", "arch=\(target.arch)", "kernel_source_dir=\(target.sourceDir)",
                   "dkms_tree=\(tree.root)", "source_tree=\(tree.sourceTree)", "install_tree=\(tree.installTree)",
                   "module=\(mv.name)", "module_version=\(mv.version)"]
        // Debug info and build ids must not depend on where the tree lives.
        let map = "-ffile-prefix-map=\(tree.buildDir(mv))/="
        let g0 = withoutDebugInfo ? " -g0" : ""
        env += ["KCFLAGS=\(map)\(g0)", "KAFLAGS=\(map)\(g0)"]
        if let cc = compilerFromKernelConfig(target) { env += ["CC=\(cc)", "KERNEL_CC=\(cc)"] }
        return env
    }

    func kernelNeedsModuleDebugInfo(_ target: KernelTarget) -> Bool {
        target.kernelConfig(cache: context.run.kernelConfigs)["CONFIG_DEBUG_INFO_BTF_MODULES"] == "y"
    }

    /// dkms 3.2 exports the compiler named in CONFIG_CC_VERSION_TEXT when it exists.
    func compilerFromKernelConfig(_ target: KernelTarget) -> String? {
        guard var text = target.kernelConfig(cache: context.run.kernelConfigs)["CONFIG_CC_VERSION_TEXT"] else { return nil }
        text = text.trimmingCharacters(in: "\"")
        guard let first = text.split(separator: " ").first.map(String.init), !first.isEmpty,
              NameRules.problem(inComponent: first) == nil else { return nil }
        for dir in ["/usr/bin", "/bin", "/usr/local/bin"] where access("\(dir)/\(first)", X_OK) == 0 { return first }
        return nil
    }

    /// `make` at the start of the command becomes `make -jN KERNELRELEASE=K`.
    /// `parallel: false` leaves out -jN: the cache key must not depend on it
    /// (the job count does not change the output).
    func makeCommandLine(_ command: String, kernel: String, parallel: Bool = true) -> String {
        guard command == "make" || command.hasPrefix("make ") else { return command }
        let jobs = !parallel ? "" : context.jobs == 0 ? "-j " : "-j\(context.jobs) "
        return "make \(jobs)KERNELRELEASE=\(kernel)" + command.dropFirst(4)
    }
}
