import Glibc
import SafeFS

/// dkms's `set_module_suffix`: ".ko" plus the compression the kernel's own
/// modules use (zst over xz over gz when several are found), which dkms's
/// messages name a module with.
public enum KernelModuleSuffix {
    public static func of(libTree: String) -> String {
        var found: Set<String> = []
        var stack = [libTree]
        while let dir = stack.popLast() {
            for entry in FS.list(dir) {
                let p = "\(dir)/\(entry)"
                guard let st = FS.lstatInfo(p) else { continue }
                if (st.st_mode & S_IFMT) == S_IFDIR {
                    if dir != libTree || (entry != "build" && entry != "source") { stack.append(p) }
                } else if entry.hasSuffix(".ko.zst") {
                    return ".ko.zst"
                } else if entry.hasSuffix(".ko.xz") {
                    found.insert(".xz")
                } else if entry.hasSuffix(".ko.gz") {
                    found.insert(".gz")
                }
            }
        }
        return found.contains(".xz") ? ".ko.xz" : found.contains(".gz") ? ".ko.gz" : ".ko"
    }
}

/// `version:` and `srcversion:` of a module file, as dkms's
/// get_module_verinfo reads them from modinfo (which reads compressed
/// modules too). The old `checksum` (the version line's third word) stands in
/// for a missing srcversion.
public struct ModuleVersionInfo: Equatable {
    public var version: String
    public var srcversion: String

    public static func of(_ path: String) -> ModuleVersionInfo {
        let r = Spawn.hostTool(["modinfo", path])
        var version = "", checksum = "", srcversion = ""
        for line in r.stdoutText.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let first = words.first else { continue }
            if first == "version:" {
                version = words.count > 1 ? words[1] : ""
                checksum = words.count > 2 ? words[2] : ""
            } else if first == "srcversion:" {
                srcversion = words.count > 1 ? words[1] : ""
            }
        }
        return ModuleVersionInfo(version: version, srcversion: srcversion.isEmpty ? checksum : srcversion)
    }
}

extension InstallPlanning {
    /// dkms's check_version_sanity for one module about to be installed:
    /// nil when it may be installed, otherwise what dkms prints when it skips
    /// it (the install then ends "Installation aborted." when nothing was
    /// installed). Compares with the one same-named module already anywhere in
    /// the kernel's tree: an older one is replaced; a newer one, or the same
    /// version and srcversion, is kept unless --force.
    mutating func versionSanityProblem(_ spec: ModuleSpec, builtFile: String, _ target: KernelTarget) -> [String]? {
        if context.invocation.force { return nil }
        let lib = tree.libTree(target.version)
        let present = ModuleLocator.find(in: lib, name: spec.destName)
        guard !present.isEmpty else { return nil }
        let suffix = KernelModuleSuffix.of(libTree: lib)
        if present.count > 1 {
            said.append(.warning("Cannot do version sanity checking because multiple \(spec.destName)\(suffix) modules were found in kernel \(target.version)."))
            return nil
        }
        let installed = present[0]
        let theirs = ModuleVersionInfo.of(installed), ours = ModuleVersionInfo.of(builtFile)
        if theirs.version == ours.version {
            guard theirs.srcversion == ours.srcversion else { return nil }
            let hasInfo = !(ours.version + ours.srcversion).allSatisfy { $0 == " " || $0 == "\t" || $0 == "\n" }
            guard hasInfo || FS.readFile(installed) == FS.readFile(builtFile) else { return nil }
            return ours.version.isEmpty
                ? ["Module \(installed) already installed (unversioned module), override by specifying --force"]
                : ["Module \(installed) already installed at version \(ours.version), override by specifying --force"]
        }
        // dkms compares VER()-padded strings; sort -V order agrees for versions.
        guard VersionOrder.less(ours.version, theirs.version) else { return nil }
        return ["", "Error! Module version \(ours.version) for \(spec.destName)\(suffix)",
                "is not newer than what is already found in kernel \(target.version) (\(theirs.version)).",
                "You may override by specifying --force."]
    }
}
