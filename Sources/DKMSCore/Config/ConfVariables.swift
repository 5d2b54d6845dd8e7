/// The dkms.conf directives read back after evaluation. Anything else a
/// dkms.conf sets stays inside the evaluating shell.
public enum ConfVariables {
    public static let all: [String] = [
        "PACKAGE_NAME", "PACKAGE_VERSION", "CLEAN", "MAKE", "MAKE_MATCH",
        "BUILT_MODULE_NAME", "BUILT_MODULE_LOCATION", "DEST_MODULE_NAME", "DEST_MODULE_LOCATION",
        "STRIP", "AUTOINSTALL", "PATCH", "PATCH_MATCH",
        "BUILD_EXCLUSIVE_KERNEL", "BUILD_EXCLUSIVE_KERNEL_MIN", "BUILD_EXCLUSIVE_KERNEL_MAX",
        "BUILD_EXCLUSIVE_ARCH", "BUILD_EXCLUSIVE_CONFIG", "BUILD_DEPENDS", "BUILD_DEPENDS_REBUILD",
        "PRE_BUILD", "POST_BUILD", "POST_ADD", "PRE_INSTALL", "POST_INSTALL", "POST_REMOVE",
        "OBSOLETE_BY", "NO_WEAK_MODULES", "SIGN_TOOL",
        // Deprecated: read only so that we can warn the way dkms does.
        "REMAKE_INITRD", "MODULES_CONF", "MODULES_CONF_OBSOLETES",
        "MODULES_CONF_ALIAS_TYPE", "MODULES_CONF_OBSOLETE_ONLY", "UDEV_TRIGGER",
    ]

    /// The dkms.conf patterns, matched by bash inside the confined
    /// evaluation (against the kernel release the evaluation was given, or
    /// the arch), never by the root process: index -> "1" (matched) or "0".
    public static let patterns = ["MAKE_MATCH", "PATCH_MATCH", "BUILD_EXCLUSIVE_KERNEL", "BUILD_EXCLUSIVE_ARCH"]
    public static let matched: [String] = patterns.map { "__dkms_matched_" + $0 }

    /// Reported as dkms 3.4 does, in its order (CLEAN and OBSOLETE_BY have
    /// their own rules, in ModuleConfigBuilder.strictFindings).
    public static let deprecated: [String] = [
        "REMAKE_INITRD", "MODULES_CONF", "MODULES_CONF_OBSOLETES",
        "MODULES_CONF_ALIAS_TYPE", "MODULES_CONF_OBSOLETE_ONLY",
    ]
}

/// What bash left in the directive variables: every variable is an array in
/// bash (a scalar is element 0), and arrays may be sparse, so each is kept as
/// index -> value.
public struct RawConf: Equatable {
    public var values: [String: [Int: String]] = [:]

    public init(values: [String: [Int: String]] = [:]) { self.values = values }

    public func scalar(_ name: String) -> String { values[name]?[0] ?? "" }
    public func isSet(_ name: String) -> Bool { values[name] != nil }
    public func count(_ name: String) -> Int { values[name]?.count ?? 0 }
    public func element(_ name: String, _ i: Int) -> String { values[name]?[i] ?? "" }
    /// Elements in index order, gaps skipped (bash's "${A[@]}").
    public func elements(_ name: String) -> [String] {
        guard let v = values[name] else { return [] }
        return v.keys.sorted().map { v[$0]! }
    }
    /// One past the highest index, which is how dkms sizes its per-module
    /// arrays; gaps in a sparse array become empty records.
    public func span(_ name: String) -> Int { (values[name]?.keys.max()).map { $0 + 1 } ?? 0 }
    /// Whether the confined evaluation matched `name`'s element `i`
    /// (ConfVariables.patterns); a result the record lacks is no match.
    public func matched(_ name: String, _ i: Int) -> Bool { values["__dkms_matched_" + name]?[i] == "1" }
}
