/// Names that end up in paths, mount options and make arguments. A module
/// called `../../etc` or `x,upperdir=/` must be refused before any file is
/// touched or any mount is made.
public enum NameRules {
    /// Module names and versions: one path component, nothing that a mount
    /// option list, a colon-separated path or an option parser would split on.
    public static func problem(inComponent s: String) -> String? {
        if s.isEmpty { return "is empty" }
        if s == "." || s == ".." || s.contains("..") { return "contains '..'" }
        if s.contains("/") { return "contains '/'" }
        if s.hasPrefix("-") { return "begins with '-'" }
        for c in s.unicodeScalars {
            if c == "," || c == ":" || c == "\\" { return "contains '\(c)'" }
            if c.value < 0x20 || c.value == 0x7f { return "contains a control character" }
        }
        return nil
    }

    public static func problem(inModuleName s: String) -> String? { problem(inComponent: s) }

    /// Relative locations such as BUILT_MODULE_LOCATION or "/updates/dkms":
    /// slashes are fine, climbing out is not.
    public static func problem(inLocation s: String) -> String? {
        for part in s.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." { return "contains '..'" }
            if let p = problem(inComponent: String(part)) { return p }
        }
        return nil
    }

    /// Kernel release strings come from the command line and directory names.
    public static func problem(inKernel s: String) -> String? { problem(inComponent: s) }
}
