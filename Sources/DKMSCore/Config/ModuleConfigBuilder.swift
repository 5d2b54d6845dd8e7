import Installer
/// Turns what bash left in the directive variables into a `ModuleConfig`,
/// applying dkms's defaults and its validation, with its error texts.
public struct ModuleConfigBuilder {
    public var target: KernelTarget
    public var dkmsTree: String
    public var module: String
    public var moduleVersion: String
    /// The location dkms forces on this distribution ("/updates/dkms" on
    /// Debian, Ubuntu and Arch), or nil to honour DEST_MODULE_LOCATION.
    public var destOverride: String?
    public var confPath: String
    public var configCache: KernelConfigCache? = nil

    public init(target: KernelTarget, dkmsTree: String, module: String, moduleVersion: String,
                destOverride: String?, confPath: String) {
        self.target = target; self.dkmsTree = dkmsTree; self.module = module
        self.moduleVersion = moduleVersion; self.destOverride = destOverride; self.confPath = confPath
    }

    public func build(_ raw: RawConf, warn: (String) -> Void = { _ in }) throws -> ModuleConfig {
        var problems: [String] = []
        let name = raw.scalar("PACKAGE_NAME")
        let version = raw.scalar("PACKAGE_VERSION")
        if name.isEmpty { problems.append("dkms.conf: Error! No 'PACKAGE_NAME' directive specified.") }
        if version.isEmpty { problems.append("dkms.conf: Error! No 'PACKAGE_VERSION' directive specified.") }
        // Names that become paths, make arguments and record lines (NameRules).
        for (what, value) in [("PACKAGE_NAME", name), ("PACKAGE_VERSION", version)] where !value.isEmpty {
            if let bad = NameRules.problem(inName: value) {
                problems.append("dkms.conf: Error! \(what) '\(Printable.visible(value))' \(bad).")
            }
        }
        let buildDepends = raw.elements("BUILD_DEPENDS").flatMap { $0.split(separator: " ").map(String.init) }
        for (i, dep) in buildDepends.enumerated() {
            if let bad = NameRules.problem(inName: dep) {
                problems.append("dkms.conf: Error! 'BUILD_DEPENDS' entry #\(i) '\(Printable.visible(dep))' \(bad).")
            }
        }

        var specs: [ModuleSpec] = []
        let count = ["BUILT_MODULE_NAME", "BUILT_MODULE_LOCATION", "DEST_MODULE_NAME", "DEST_MODULE_LOCATION"]
            .map { raw.span($0) }.max() ?? 0
        let singleDefault = count <= 1
        var firstStrip = true
        for i in 0..<max(count, singleDefault ? 1 : 0) {
            var built = raw.element("BUILT_MODULE_NAME", i)
            if built.isEmpty && singleDefault { built = name }
            var dest = raw.element("DEST_MODULE_NAME", i)
            if dest.isEmpty { dest = built }
            var location = raw.element("BUILT_MODULE_LOCATION", i)
            if !location.isEmpty && !location.hasSuffix("/") { location += "/" }
            let declared = raw.element("DEST_MODULE_LOCATION", i)
            let stripValue = raw.element("STRIP", i)
            let strip: Bool
            switch stripValue.first {
            case "n", "N": strip = false
            case "y", "Y": strip = true
            default: strip = i == 0 ? true : firstStrip
            }
            if i == 0 { firstStrip = strip }

            if built.isEmpty {
                problems.append("dkms.conf: Error! No 'BUILT_MODULE_NAME' directive specified for record #\(i).")
            }
            if built.hasSuffix(".o") || built.hasSuffix(".ko") {
                problems.append("dkms.conf: Error! 'BUILT_MODULE_NAME' directive ends in '.o' or '.ko' in record #\(i).")
            }
            if dest.hasSuffix(".o") || dest.hasSuffix(".ko") {
                problems.append("dkms.conf: Error! 'DEST_MODULE_NAME' directive ends in '.o' or '.ko' in record #\(i).")
            }
            if !declared.isEmpty && !(declared.hasPrefix("/kernel") || declared.hasPrefix("/updates") || declared.hasPrefix("/extra")) {
                problems.append("dkms.conf: Error! Directive 'DEST_MODULE_LOCATION' does not begin with")
                problems.append("'/kernel', '/updates', or '/extra' in record #\(i).")
            }
            if declared.isEmpty && destOverride == nil {
                problems.append("dkms.conf: Error! No 'DEST_MODULE_LOCATION' directive specified for record #\(i).")
            }
            for (what, value) in [("BUILT_MODULE_NAME", built), ("DEST_MODULE_NAME", dest)] where !value.isEmpty {
                if let bad = NameRules.problem(inModuleName: value) {
                    problems.append("dkms.conf: Error! '\(what)' directive \(bad) in record #\(i).")
                }
            }
            for (what, value) in [("BUILT_MODULE_LOCATION", location), ("DEST_MODULE_LOCATION", declared)] where !value.isEmpty {
                if let bad = NameRules.problem(inLocation: value) {
                    problems.append("dkms.conf: Error! '\(what)' directive \(bad) in record #\(i).")
                }
            }
            let effectiveDest = destOverride ?? declared
            specs.append(ModuleSpec(builtName: built, builtLocation: location, destName: dest,
                                    destLocation: effectiveDest, declaredDestLocation: declared, strip: strip))
        }

        for v in ConfVariables.deprecated where raw.isSet(v) && raw.count(v) > 0 {
            warn("\(v) (\(confPath))")
        }

        for (i, p) in selectedPatches(raw).enumerated() {
            // '..' gets dkms's own error when the build applies it (exit 5).
            if let bad = NameRules.problem(inLocation: p), bad != "contains '..'" {
                problems.append("dkms.conf: Error! 'PATCH' entry #\(i) '\(Printable.visible(p))' \(bad).")
            }
        }

        if !problems.isEmpty {
            throw DKMSError(exitCode: 8, lines: ["Bad conf file.", "File: \(confPath) does not represent a valid dkms.conf file."] + problems)
        }

        let buildDir = "\(dkmsTree)/\(module)/\(moduleVersion)/build"
        var make = ""
        let makes = raw.values["MAKE"] ?? [:]
        let matches = raw.values["MAKE_MATCH"] ?? [:]
        if (matches[0] ?? "").isEmpty { make = makes[0] ?? "" }
        for idx in makes.keys.sorted() {
            let m = makes[idx] ?? "", pattern = matches[idx] ?? ""
            if !m.isEmpty && !pattern.isEmpty && raw.matched("MAKE_MATCH", idx) { make = m }
        }
        if make.isEmpty { make = "make -C \(target.sourceDir) M=\(buildDir)" }
        var clean = raw.scalar("CLEAN")
        if clean.isEmpty { clean = "make -C \(target.sourceDir) M=\(buildDir) clean" }
        let kconfig = target.kernelConfig(cache: configCache)
        if kconfig["CONFIG_CC_IS_CLANG"] == "y" { make += " CC=clang" }
        if kconfig["CONFIG_LD_IS_LLD"] == "y" { make += " LD=ld.lld" }

        let patches = selectedPatches(raw)

        return ModuleConfig(
            packageName: name, packageVersion: version, modules: specs,
            makeCommand: make, cleanCommand: clean, patches: patches,
            autoinstall: !raw.scalar("AUTOINSTALL").isEmpty,
            buildDepends: buildDepends,
            preBuild: raw.scalar("PRE_BUILD"), postBuild: raw.scalar("POST_BUILD"),
            postAdd: raw.scalar("POST_ADD"), preInstall: raw.scalar("PRE_INSTALL"),
            postInstall: raw.scalar("POST_INSTALL"), postRemove: raw.scalar("POST_REMOVE"),
            obsoleteBy: raw.scalar("OBSOLETE_BY"),
            buildExclusion: exclusion(raw, kconfig: kconfig),
            raw: raw)
    }

    /// PATCH entries whose PATCH_MATCH (if any) matches the target kernel.
    func selectedPatches(_ raw: RawConf) -> [String] {
        var patches: [String] = []
        let patchList = raw.values["PATCH"] ?? [:]
        let patchMatch = raw.values["PATCH_MATCH"] ?? [:]
        for idx in patchList.keys.sorted() {
            let p = patchList[idx] ?? ""
            let pattern = patchMatch[idx] ?? ""
            if !p.isEmpty && (pattern.isEmpty || raw.matched("PATCH_MATCH", idx)) { patches.append(p) }
        }
        return patches
    }

    /// dkms's BUILD_EXCLUSIVE_* tests: regexes for kernel and arch, a
    /// version range, and required (or, with "!", forbidden) config options.
    func exclusion(_ raw: RawConf, kconfig: KernelConfig) -> String? {
        let k = raw.scalar("BUILD_EXCLUSIVE_KERNEL")
        if !k.isEmpty && !raw.matched("BUILD_EXCLUSIVE_KERNEL", 0) { return "BUILD_EXCLUSIVE_KERNEL" }
        let kmin = raw.scalar("BUILD_EXCLUSIVE_KERNEL_MIN")
        if !kmin.isEmpty && VersionOrder.less(target.version, kmin) { return "BUILD_EXCLUSIVE_KERNEL_MIN" }
        let kmax = raw.scalar("BUILD_EXCLUSIVE_KERNEL_MAX")
        if !kmax.isEmpty && VersionOrder.less(kmax, target.version) { return "BUILD_EXCLUSIVE_KERNEL_MAX" }
        let a = raw.scalar("BUILD_EXCLUSIVE_ARCH")
        if !a.isEmpty && !raw.matched("BUILD_EXCLUSIVE_ARCH", 0) { return "BUILD_EXCLUSIVE_ARCH" }
        let configs = raw.scalar("BUILD_EXCLUSIVE_CONFIG")
        if !configs.isEmpty && FS.exists(target.configPath) {
            for item in configs.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }) {
                let negated = item.hasPrefix("!")
                let option = String(negated ? item.dropFirst() : item)
                let enabled = kconfig[option] == "y" || kconfig[option] == "m"
                if enabled == negated { return "BUILD_EXCLUSIVE_CONFIG" }
            }
        }
        return nil
    }
}
