/// Recognizes dkms.conf files whose evaluation cannot depend on anything but
/// their own text and the variables dkms passes: comments and `NAME=value`,
/// `NAME[N]=value`, `NAME+=value` lines only, whose values are quoted or plain
/// words expanding `$name` / `${name}` of variables the file assigned before
/// or dkms passed. Nothing runs, nothing is read, so one sandboxed evaluation
/// of such a file can be replayed (see `ConfMemo`). Most dkms.conf files are
/// of this kind; anything else (`if`, `$(...)`, sourcing, functions, backticks,
/// `export`, arrays in parentheses, dynamic variables like `$RANDOM`) is not,
/// and is evaluated every time.
///
/// The recognizer only has to be conservative, never complete: calling a
/// pure file impure costs a sandbox start, the reverse could replay a stale
/// value (never run anything: replaying is all the memo does).
enum PureConf {
    /// Names whose value bash computes on each expansion, or that steer the
    /// shell or the evaluator itself.
    static let dynamic: Set<String> = ["RANDOM", "SRANDOM", "SECONDS", "EPOCHSECONDS", "EPOCHREALTIME", "LINENO",
                                       "HISTCMD", "PPID", "PWD", "OLDPWD", "SHELLOPTS", "IFS", "UID", "EUID",
                                       "GROUPS", "HOSTNAME", "OPTIND", "OPTARG", "REPLY", "PIPESTATUS", "FUNCNAME"]

    static func isDenied(_ name: String) -> Bool {
        dynamic.contains(name) || name.hasPrefix("BASH") || name.hasPrefix("__dkms") || name.hasPrefix("COMP_")
    }

    /// Whether every file of `files` (evaluated in order, as the harness
    /// does) is pure, given the variables dkms passes (`known`).
    static func isPure(_ files: [[UInt8]], known: Set<String>) -> Bool {
        var assigned = known
        for f in files where !check(f, assigned: &assigned) { return false }
        return true
    }

    static func isNameStart(_ c: UInt8) -> Bool { c == 0x5f || (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a }
    static func isNameChar(_ c: UInt8) -> Bool { isNameStart(c) || c >= 0x30 && c <= 0x39 }

    private static func check(_ raw: [UInt8], assigned: inout Set<String>) -> Bool {
        // The evaluator strips CRs from CRLF files before evaluating them.
        let b = raw.filter { $0 != 0x0d }
        if b.contains(0) { return false }
        let n = b.count
        var i = 0
        func name(at start: Int) -> (String, Int)? {
            guard start < n, isNameStart(b[start]) else { return nil }
            var e = start + 1
            while e < n && isNameChar(b[e]) { e += 1 }
            return (String(decoding: b[start..<e], as: UTF8.self), e)
        }
        /// `$name` or `${name}` at `i` (which points at `$`); the index after it.
        func expansion(at i: Int) -> Int? {
            var j = i + 1
            let braced = j < n && b[j] == 0x7b
            if braced { j += 1 }
            guard let (v, e) = name(at: j), !isDenied(v), assigned.contains(v) else { return nil }
            if braced { return e < n && b[e] == 0x7d ? e + 1 : nil }
            return e
        }
        while i < n {
            let c = b[i]
            if c == 0x20 || c == 0x09 || c == 0x0a { i += 1; continue }
            if c == 0x23 { while i < n && b[i] != 0x0a { i += 1 }; continue }
            // NAME, [digits], +, =
            guard let (v, afterName) = name(at: i), !isDenied(v) else { return false }
            i = afterName
            if i < n && b[i] == 0x5b {
                i += 1
                let s = i
                while i < n && b[i] >= 0x30 && b[i] <= 0x39 { i += 1 }
                guard i > s, i < n, b[i] == 0x5d else { return false }
                i += 1
            }
            if i < n && b[i] == 0x2b { i += 1 }
            guard i < n, b[i] == 0x3d else { return false }
            i += 1
            // The value: one word, ended by a blank, a newline or the end.
            word: while i < n {
                switch b[i] {
                case 0x20, 0x09, 0x0a: break word
                case 0x22:  // "...": $name expansions, backslash escapes; no backticks, no $( or ${x...}
                    i += 1
                    while true {
                        guard i < n else { return false }
                        let d = b[i]
                        if d == 0x22 { i += 1; break }
                        if d == 0x60 { return false }
                        if d == 0x5c { i += 2; continue }
                        if d == 0x24 { guard let e = expansion(at: i) else { return false }; i = e; continue }
                        i += 1
                    }
                case 0x27:  // '...': literal
                    i += 1
                    while i < n && b[i] != 0x27 { i += 1 }
                    guard i < n else { return false }
                    i += 1
                case 0x24:
                    guard let e = expansion(at: i) else { return false }
                    i = e
                case 0x5c:
                    guard i + 1 < n else { return false }
                    i += 2
                case 0x60, 0x28, 0x29, 0x3b, 0x26, 0x7c, 0x3c, 0x3e, 0x7e:  // ` ( ) ; & | < > ~
                    return false
                default:
                    i += 1
                }
            }
            assigned.insert(v)
            // Only blanks and a comment may follow on the line: `A=b cmd` would run cmd.
            while i < n && (b[i] == 0x20 || b[i] == 0x09) { i += 1 }
            if i < n && b[i] == 0x23 { while i < n && b[i] != 0x0a { i += 1 } }
            guard i >= n || b[i] == 0x0a else { return false }
        }
        return true
    }
}
