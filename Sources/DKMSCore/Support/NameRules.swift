/// Names that end up in paths, mount options, make arguments and record
/// files. A module called `../../etc`, `x,upperdir=/` or `a<newline>module`
/// must be refused before any file is touched or any mount is made.
///
/// The one validator for what dkms.conf and the command line name: package
/// names and versions, BUILD_DEPENDS entries, BUILT_MODULE_NAME and
/// DEST_MODULE_NAME (`problem(inName:)`), BUILT_MODULE_LOCATION,
/// DEST_MODULE_LOCATION, PATCH and script programs (`problem(inLocation:)`).
///
/// Upstream dkms (3.4.3) checks nothing but '..' in PATCH; what it really
/// copes with is narrower, since the names go unquoted through its shell
/// code and into paths. Real packages use letters, digits and `_ - . + ~`
/// (`1.2.3~rc1+git20240101`, `acpi_call`, `ddcci-backlight`); `@ % =` are
/// kept too, being inert in a shell word. Everything else is refused: shell
/// metacharacters and white space, the separators of mount options and
/// colon lists, C0/C1 controls, and any non-ASCII (which covers the bidi
/// overrides and isolates and zero-width characters a name could hide
/// behind).
public enum NameRules {
    /// Module names and versions: one path component, nothing that a mount
    /// option list, a colon-separated path, an option parser, a shell or a
    /// line-based record would split on.
    public static func problem(inComponent s: String) -> String? {
        if s.isEmpty { return "is empty" }
        if let p = invisibleProblem(s) { return p }
        if s == "." || s == ".." || s.contains("..") { return "contains '..'" }
        if s.contains("/") { return "contains '/'" }
        if s.hasPrefix("-") { return "begins with '-'" }
        if s.hasPrefix("~") { return "begins with '~'" }
        for c in s.unicodeScalars where !allowed(c) {
            if c == " " { return "contains a space" }
            return "contains '\(c)'"
        }
        return nil
    }

    /// A name or version: the same rules as a path component.
    public static func problem(inName s: String) -> String? { problem(inComponent: s) }

    public static func problem(inModuleName s: String) -> String? { problem(inComponent: s) }

    /// Relative locations such as BUILT_MODULE_LOCATION or "/updates/dkms":
    /// slashes are fine, climbing out is not.
    public static func problem(inLocation s: String) -> String? {
        if let p = invisibleProblem(s) { return p }
        for part in s.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." { return "contains '..'" }
            if let p = problem(inComponent: String(part)) { return p }
        }
        return nil
    }

    /// Kernel release strings and arches come from the command line and
    /// directory names the distribution made: the old, looser rule (no
    /// path separators, option or list separators, controls or invisible
    /// characters), so that an unusual local kernel name is not refused.
    public static func problem(inKernel s: String) -> String? {
        if s.isEmpty { return "is empty" }
        if let p = invisibleProblem(s) { return p }
        if s == "." || s == ".." || s.contains("..") { return "contains '..'" }
        if s.contains("/") { return "contains '/'" }
        if s.hasPrefix("-") { return "begins with '-'" }
        for c in s.unicodeScalars where c == "," || c == ":" || c == "\\" || c == " " { return "contains '\(c)'" }
        return nil
    }

    /// Controls (C0, DEL, C1), and the characters that reorder or hide text.
    static func invisibleProblem(_ s: String) -> String? {
        for c in s.unicodeScalars {
            let v = c.value
            if v == 0x0a || v == 0x0d { return "contains a line break" }
            if v < 0x20 || v == 0x7f || (0x80...0x9f).contains(v) { return "contains a control character" }
            if Printable.isInvisible(v) { return "contains an invisible or bidirectional character (U+\(String(v, radix: 16, uppercase: true)))" }
        }
        return nil
    }

    static func allowed(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "a"..."z", "A"..."Z", "0"..."9", ".", "_", "-", "+", "~", "@", "%", "=": return true
        default: return false
        }
    }
}
