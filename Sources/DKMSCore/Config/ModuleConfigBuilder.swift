import ModuleTools
import SafeFS
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

    public func build(_ raw: RawConf) throws -> ModuleConfig {
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
        // dkms sizes the records by the highest index any of the four arrays
        // uses: none set means zero modules (dkms warns, strict reads only).
        let singleDefault = count == 1
        var firstStrip = true
        for i in 0..<count {
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
            // Checked as written, even where the distribution overrides it (as dkms does).
            if declared.isEmpty {
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

        for (i, p) in selectedPatches(raw).enumerated() {
            // '..' gets dkms's own error when the build applies it (exit 5).
            if let bad = NameRules.problem(inLocation: p), bad != "contains '..'" {
                problems.append("dkms.conf: Error! 'PATCH' entry #\(i) '\(Printable.visible(p))' \(bad).")
            }
        }

        // dkms's yes/no directives: "", yes or no in any case; "no" counts as unset.
        for v in ["AUTOINSTALL", "BUILD_DEPENDS_REBUILD", "NO_WEAK_MODULES"] {
            let value = raw.scalar(v)
            if !value.isEmpty && Self.yesNo(value) == nil {
                problems.append("dkms.conf: Error! Unsupported \(v) value '\(Printable.visible(value))'")
            }
        }

        if !problems.isEmpty {
            throw DKMSError(.badConf, lines: ["Bad conf file.", "File: \(confPath) does not represent a valid dkms.conf file."] + problems)
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

        // Records a BUILD_EXCLUSIVE directive leaves out are neither built nor
        // installed; when it leaves out every one, the whole build is excluded.
        // OBSOLETE_BY stands for a global BUILD_EXCLUSIVE_KERNEL_MAX when no maximum is set at all.
        var effective = raw
        let obsoleteBy = raw.scalar("OBSOLETE_BY")
        if !obsoleteBy.isEmpty && raw.elements("BUILD_EXCLUSIVE_KERNEL_MAX").allSatisfy({ $0.isEmpty }) {
            effective.values["BUILD_EXCLUSIVE_KERNEL_MAX"] = [0: obsoleteBy]
        }
        let exclusions = specs.indices.map { exclusion(effective, kconfig: kconfig, index: $0) }
        let buildable = specs.indices.filter { exclusions[$0] == nil }.map { specs[$0] }
        let anyDirective = specs.indices.contains { Self.hasExclusiveDirectives(effective, index: $0) }
        let wholeExclusion = buildable.isEmpty && anyDirective ? exclusions.compactMap { $0 }.first : nil

        return ModuleConfig(
            packageName: name, packageVersion: version, modules: buildable,
            makeCommand: make, cleanCommand: clean, patches: patches,
            autoinstall: Self.yesNo(raw.scalar("AUTOINSTALL")) == true,
            rebuildOnDependencyUpdate: Self.yesNo(raw.scalar("BUILD_DEPENDS_REBUILD")) == true,
            buildDepends: buildDepends,
            preBuild: raw.scalar("PRE_BUILD"), postBuild: raw.scalar("POST_BUILD"),
            postAdd: raw.scalar("POST_ADD"), preInstall: raw.scalar("PRE_INSTALL"),
            postInstall: raw.scalar("POST_INSTALL"), postRemove: raw.scalar("POST_REMOVE"),
            obsoleteBy: raw.scalar("OBSOLETE_BY"),
            buildExclusion: wholeExclusion,
            raw: raw, declaredModules: specs, hasExclusiveDirectives: anyDirective)
    }

    /// "yes" (any case) -> true, "no" -> false, anything else nil.
    static func yesNo(_ value: String) -> Bool? {
        switch value.lowercased() {
        case "yes": return true
        case "no": return false
        default: return nil
        }
    }

    /// The deprecation notices dkms's strict reads print while sourcing the
    /// file (shown as "Deprecated feature: ..."), in its order and words.
    public static func deprecations(_ raw: RawConf, confPath: String) -> [String] {
        var deprecated: [String] = []
        if raw.count("CLEAN") > 0 {
            switch raw.scalar("CLEAN") {
            case "true", "/bin/true", "/usr/bin/true": break
            default: deprecated.append("CLEAN (\(confPath))")
            }
        }
        for v in ConfVariables.deprecated where raw.count(v) > 0 { deprecated.append("\(v) (\(confPath))") }
        if raw.count("OBSOLETE_BY") > 0 { deprecated.append("OBSOLETE_BY (\(confPath)): use BUILD_EXCLUSIVE_KERNEL_MAX instead") }
        return deprecated
    }

    /// What dkms's read_conf_strict adds to a valid file: the zero-modules
    /// warning and the duplicate-module errors.
    public static func strictFindings(_ conf: ModuleConfig) -> (warnings: [String], errors: [String]) {
        var warnings: [String] = []
        if conf.declaredModules.isEmpty { warnings.append("dkms.conf: Warning! Zero modules specified.") }
        var errors: [String] = []
        var seen: Set<String> = []
        for (i, spec) in conf.declaredModules.enumerated() {
            let name = spec.builtLocation + spec.builtName
            if !seen.insert(name).inserted { errors.append("dkms.conf: Error! Duplicate module '\(Printable.visible(name))' in 'BUILT_MODULE_NAME[\(i)]'.") }
        }
        seen = []
        for (i, spec) in conf.declaredModules.enumerated() {
            if !seen.insert(spec.destName).inserted { errors.append("dkms.conf: Error! Duplicate module '\(Printable.visible(spec.destName))' in 'DEST_MODULE_NAME[\(i)]'.") }
        }
        return (warnings, errors)
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

    /// dkms's BUILD_EXCLUSIVE_* tests for module record `index`: the global
    /// directives (the scalars), then the record's own elements: regexes for
    /// kernel and arch, a version range, and required (or, with "!",
    /// forbidden) config options. nil when the record may be built.
    func exclusion(_ raw: RawConf, kconfig: KernelConfig, index: Int) -> String? {
        let configExists = FS.exists(target.configPath)
        func check(_ i: Int) -> String? {
            let k = raw.element("BUILD_EXCLUSIVE_KERNEL", i)
            if !k.isEmpty && !raw.matched("BUILD_EXCLUSIVE_KERNEL", i) { return "BUILD_EXCLUSIVE_KERNEL" }
            let kmin = raw.element("BUILD_EXCLUSIVE_KERNEL_MIN", i)
            if !kmin.isEmpty && VersionOrder.less(target.version, kmin) { return "BUILD_EXCLUSIVE_KERNEL_MIN" }
            let kmax = raw.element("BUILD_EXCLUSIVE_KERNEL_MAX", i)
            if !kmax.isEmpty && VersionOrder.less(kmax, target.version) { return "BUILD_EXCLUSIVE_KERNEL_MAX" }
            let a = raw.element("BUILD_EXCLUSIVE_ARCH", i)
            if !a.isEmpty && !raw.matched("BUILD_EXCLUSIVE_ARCH", i) { return "BUILD_EXCLUSIVE_ARCH" }
            return nil
        }
        func checkConfig(_ i: Int) -> String? {
            let configs = raw.element("BUILD_EXCLUSIVE_CONFIG", i)
            guard !configs.isEmpty && configExists else { return nil }
            for item in configs.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }) {
                let negated = item.hasPrefix("!")
                let option = String(negated ? item.dropFirst() : item)
                let enabled = kconfig[option] == "y" || kconfig[option] == "m"
                if enabled == negated { return "BUILD_EXCLUSIVE_CONFIG" }
            }
            return nil
        }
        return check(0) ?? (index == 0 ? nil : check(index)) ?? checkConfig(0) ?? (index == 0 ? nil : checkConfig(index))
    }

    /// Whether any BUILD_EXCLUSIVE_* directive applies to record `index`
    /// (globally or its own element).
    static func hasExclusiveDirectives(_ raw: RawConf, index: Int) -> Bool {
        ["BUILD_EXCLUSIVE_KERNEL", "BUILD_EXCLUSIVE_KERNEL_MIN", "BUILD_EXCLUSIVE_KERNEL_MAX", "BUILD_EXCLUSIVE_ARCH",
         "BUILD_EXCLUSIVE_CONFIG"].contains { !raw.element($0, 0).isEmpty || !raw.element($0, index).isEmpty }
    }
}
