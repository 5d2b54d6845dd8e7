/// Recognizes dkms.conf files that are not pure (`PureConf`) only because they
/// look at the target kernel's configuration: `if` on `[ -f $kernel_source_dir/.config ]`,
/// sourcing that `.config`, `grep -q PATTERN "$kernel_source_dir/.config"`,
/// `{ echo "$kernelver"; echo 5.18; } | sort -V -C`, diagnostics on stderr. Such a
/// file's evaluation is a function of its text, the variables dkms passes, the
/// kernel build tree (whose content digest every build computes anyway) and the
/// programs it runs (bash, grep, sort): with those in the key it can be replayed
/// (v4l2loopback and ddcci are of this kind; each evaluation costs a sandbox start
/// plus ~30 ms of bash sourcing the .config).
///
/// Like `PureConf`, it only has to be conservative. Accepted: comments; `NAME=value`
/// assignments as `PureConf` takes them; `if`/`then`/`elif`/`else`/`fi`, `!`, `{ }`,
/// `;`, `&&`, `||`, `|`; the commands `[`/`test` (file tests -f -d -e -s only, on
/// kernel-tree paths), `echo`, `true`, `false`, `:`, `grep` (options from -qEFwxis,
/// files in the kernel tree or stdin), `sort` (options from -VCcnrubf, stdin only),
/// and `.`/`source` of the kernel's `.config` only; redirections `>&2`, `1>&2`, `2>&1`,
/// `>/dev/null`, `2>/dev/null`; expansions `$name`, `${name}`, `${name:-literal}`
/// of names that are not dynamic. Anything else (other commands, `$(...)`,
/// backticks, globs, `~`, loops, functions, here-documents, other paths) is not.
enum KernelDependentConf {
    /// The programs (besides bash) a recognized file runs, or nil when a file is
    /// not of this kind. `files` are evaluated in order, as the harness does.
    static func programs(_ files: [[UInt8]]) -> Set<String>? {
        var used: Set<String> = []
        for f in files {
            guard let tokens = tokenize(f.filter { $0 != 0x0d }), check(tokens, programs: &used) else { return nil }
        }
        return used
    }

    /// Whether a kernel `.config` is what kconfig writes: comments, blank lines and
    /// `CONFIG_NAME=value` with a plain value (y/m/n, a number) or a double-quoted string
    /// without `$`, backticks or backslashes other than `\"` and `\\`. Sourcing such a
    /// file only assigns; anything else in it would be code, and its evaluation is not
    /// replayed. One pass over the bytes (the file is ~260 KB and this runs per replay).
    static func isPlainKernelConfig(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { b in
            let n = b.count
            var i = 0
            let prefix = Array("CONFIG_".utf8)
            while i < n {
                if b[i] == 0x0a { i += 1; continue }
                if b[i] == 0x23 { while i < n && b[i] != 0x0a { i += 1 }; continue }
                guard i + prefix.count < n, Array(b[i..<(i + prefix.count)]) == prefix else { return false }
                i += prefix.count
                let nameStart = i
                while i < n && isNameChar(b[i]) { i += 1 }
                guard i > nameStart, i < n, b[i] == 0x3d else { return false }
                i += 1
                if i < n && b[i] == 0x22 {
                    i += 1
                    while true {
                        guard i < n, b[i] != 0x0a else { return false }
                        let c = b[i]
                        if c == 0x22 { i += 1; break }
                        if c == 0x24 || c == 0x60 { return false }
                        if c == 0x5c {
                            guard i + 1 < n, b[i + 1] == 0x22 || b[i + 1] == 0x5c else { return false }
                            i += 2; continue
                        }
                        i += 1
                    }
                } else {
                    while i < n && b[i] != 0x0a {
                        let c = b[i]
                        guard isNameChar(c) || c == 0x2d || c == 0x2e else { return false }  // y m n 0x1f -1 1.5
                        i += 1
                    }
                }
                guard i >= n || b[i] == 0x0a else { return false }
            }
            return true
        }
    }

    /// Where the kernel tree is, as the variables dkms passes name it.
    static let kernelDirVariable = "kernel_source_dir"
    static let kernelConfigVariable = "kernel_config"

    // MARK: words

    enum Part: Equatable {
        case literal([UInt8])
        case variable(String)
    }

    /// A shell word: its parts, whether any part was quoted, and whether it is a
    /// plain literal (no quotes, no expansions: a candidate reserved word or command).
    struct Word: Equatable {
        var parts: [Part] = []
        var quoted = false
        var text: String? {
            var s: [UInt8] = []
            for p in parts { guard case .literal(let l) = p else { return nil }; s += l }
            return String(decoding: s, as: UTF8.self)
        }
        var plain: String? { quoted ? nil : text }

        mutating func add(_ bytes: [UInt8]) {
            if case .literal(let l)? = parts.last { parts[parts.count - 1] = .literal(l + bytes) } else { parts.append(.literal(bytes)) }
        }
    }

    enum Token: Equatable {
        case word(Word)
        case op(String)          // ; \n | && || (separators and pipes)
        case redirect(String)    // one of the allowed redirections
    }

    private static func isNameStart(_ c: UInt8) -> Bool { PureConf.isNameStart(c) }
    private static func isNameChar(_ c: UInt8) -> Bool { PureConf.isNameChar(c) }

    static let allowedRedirections: Set<String> = [">&2", "1>&2", "2>&1", ">/dev/null", "1>/dev/null", "2>/dev/null"]

    /// Splits the file into tokens as bash would for this subset; nil for anything outside it.
    static func tokenize(_ b: [UInt8]) -> [Token]? {
        if b.contains(0) { return nil }
        let n = b.count
        var i = 0
        var tokens: [Token] = []

        /// `$name`, `${name}` or `${name:-literal}` at i (pointing at `$`).
        func expansion(_ i: inout Int) -> String? {
            var j = i + 1
            guard j < n else { return nil }
            if b[j] == 0x7b {
                j += 1
                let s = j
                guard j < n, isNameStart(b[j]) else { return nil }
                while j < n && isNameChar(b[j]) { j += 1 }
                let name = String(decoding: b[s..<j], as: UTF8.self)
                guard j < n else { return nil }
                if b[j] == 0x7d { i = j + 1; return PureConf.isDenied(name) ? nil : name }
                // ${name:-literal}: the default may not expand or quote anything.
                guard j + 1 < n, b[j] == 0x3a, b[j + 1] == 0x2d else { return nil }
                j += 2
                while j < n && b[j] != 0x7d {
                    if [0x24, 0x60, 0x22, 0x27, 0x5c, 0x7b, 0x0a].contains(b[j]) { return nil }
                    j += 1
                }
                guard j < n else { return nil }
                i = j + 1
                return PureConf.isDenied(name) ? nil : name
            }
            guard isNameStart(b[j]) else { return nil }
            let s = j
            while j < n && isNameChar(b[j]) { j += 1 }
            i = j
            let name = String(decoding: b[s..<j], as: UTF8.self)
            return PureConf.isDenied(name) ? nil : name
        }

        while i < n {
            let c = b[i]
            if c == 0x20 || c == 0x09 { i += 1; continue }
            if c == 0x5c && i + 1 < n && b[i + 1] == 0x0a { i += 2; continue }  // line continuation
            if c == 0x23 { while i < n && b[i] != 0x0a { i += 1 }; continue }
            if c == 0x0a || c == 0x3b {
                if c == 0x3b && i + 1 < n && b[i + 1] == 0x3b { return nil }  // ;; (case)
                tokens.append(.op(c == 0x0a ? "\n" : ";")); i += 1; continue
            }
            if c == 0x7c {
                if i + 1 < n && b[i + 1] == 0x7c { tokens.append(.op("||")); i += 2; continue }
                if i + 1 < n && b[i + 1] == 0x26 { return nil }  // |&
                tokens.append(.op("|")); i += 1; continue
            }
            if c == 0x26 {
                guard i + 1 < n, b[i + 1] == 0x26 else { return nil }  // background job
                tokens.append(.op("&&")); i += 2; continue
            }
            if c == 0x28 || c == 0x29 || c == 0x3c { return nil }  // subshells, functions, input redirection
            // Redirections: [fd]>target as one of the allowed forms.
            if c == 0x3e || (c == 0x31 || c == 0x32) && i + 1 < n && b[i + 1] == 0x3e {
                var j = i
                if b[j] != 0x3e { j += 1 }  // the fd digit
                j += 1                        // >
                if j < n && b[j] == 0x26 {
                    j += 1                    // >&N
                    if j < n && b[j] >= 0x30 && b[j] <= 0x39 { j += 1 }
                } else {
                    while j < n && ![0x20, 0x09, 0x0a, 0x3b, 0x7c, 0x26, 0x3c, 0x3e, 0x28, 0x29].contains(b[j]) { j += 1 }
                }
                let r = String(decoding: b[i..<j], as: UTF8.self)
                guard allowedRedirections.contains(r) else { return nil }
                tokens.append(.redirect(r)); i = j; continue
            }
            // A word.
            var w = Word()
            word: while i < n {
                let d = b[i]
                switch d {
                case 0x20, 0x09, 0x0a, 0x3b, 0x7c, 0x26, 0x3e, 0x3c, 0x28, 0x29: break word
                case 0x27:
                    w.quoted = true
                    var j = i + 1
                    while j < n && b[j] != 0x27 { j += 1 }
                    guard j < n else { return nil }
                    w.add(Array(b[(i + 1)..<j])); i = j + 1
                case 0x22:
                    w.quoted = true
                    i += 1
                    while true {
                        guard i < n else { return nil }
                        let e = b[i]
                        if e == 0x22 { i += 1; break }
                        if e == 0x60 { return nil }
                        if e == 0x5c {
                            guard i + 1 < n else { return nil }
                            // Inside "", a backslash only escapes $ ` " \ and newline.
                            if [0x24, 0x60, 0x22, 0x5c].contains(b[i + 1]) { w.add([b[i + 1]]) } else if b[i + 1] != 0x0a { w.add([e, b[i + 1]]) }
                            i += 2; continue
                        }
                        if e == 0x24 {
                            // Before a quote or a blank, `$` is itself.
                            if i + 1 < n, [0x22, 0x20, 0x09, 0x0a].contains(b[i + 1]) { w.add([e]); i += 1; continue }
                            guard let v = expansion(&i) else { return nil }
                            w.parts.append(.variable(v)); continue
                        }
                        w.add([e]); i += 1
                    }
                case 0x24:
                    if i + 1 >= n || [0x20, 0x09, 0x0a, 0x3b].contains(b[i + 1]) { w.add([d]); i += 1; continue }
                    guard let v = expansion(&i) else { return nil }
                    w.parts.append(.variable(v))
                case 0x5c:
                    guard i + 1 < n, b[i + 1] != 0x0a else { return nil }
                    w.quoted = true
                    w.add([b[i + 1]]); i += 2
                case 0x60, 0x2a, 0x3f:  // backticks; glob characters
                    return nil
                case 0x7e:  // tilde expansion (also after = and : in assignments)
                    return nil
                case 0x5b:
                    // `[` alone is the test command; `NAME[digits]=` an array assignment;
                    // anywhere else it starts a glob.
                    if w.parts.isEmpty, i + 1 >= n || [0x20, 0x09, 0x0a].contains(b[i + 1]) { w.add([d]); i += 1; continue }
                    guard !w.quoted, let name = w.text, let first = name.utf8.first, isNameStart(first),
                          name.utf8.allSatisfy(isNameChar) else { return nil }
                    var j = i + 1
                    while j < n && b[j] >= 0x30 && b[j] <= 0x39 { j += 1 }
                    guard j > i + 1, j + 1 < n, b[j] == 0x5d, b[j + 1] == 0x3d || b[j + 1] == 0x2b else { return nil }
                    w.add(Array(b[i...j])); i = j + 1
                case 0x7b, 0x7d:
                    // { and } only as words of their own (command grouping).
                    guard w.parts.isEmpty, i + 1 >= n || [0x20, 0x09, 0x0a, 0x3b].contains(b[i + 1]) else { return nil }
                    w.add([d]); i += 1
                    break word
                default:
                    w.add([d]); i += 1
                }
            }
            guard !w.parts.isEmpty || w.quoted else { return nil }
            tokens.append(.word(w))
        }
        return tokens
    }

    // MARK: commands

    static let reserved: Set<String> = ["if", "then", "elif", "else", "fi", "!", "{", "}"]

    /// Each simple command between separators: reserved words first, then either
    /// assignments alone or an allowed command with allowed arguments.
    static func check(_ tokens: [Token], programs: inout Set<String>) -> Bool {
        var words: [Word] = []
        var atStart = true
        func finish() -> Bool {
            defer { words = []; atStart = true }
            return command(words, programs: &programs)
        }
        for t in tokens {
            switch t {
            case .op:
                guard finish() else { return false }
            case .redirect:
                // The tokenizer let through only redirections to stderr or /dev/null.
                atStart = false
            case .word(let w):
                // Reserved words only count in command position (no word before them yet).
                if atStart, let p = w.plain, reserved.contains(p) { continue }
                atStart = false
                words.append(w)
            }
        }
        return finish()
    }

    static func isAssignment(_ w: Word) -> Bool {
        guard case .literal(let l)? = w.parts.first, let eq = l.firstIndex(of: 0x3d), eq > 0 else { return false }
        var name = l[..<eq]
        if name.last == 0x2b { name = name.dropLast() }  // +=
        if name.last == 0x5d, let open = name.firstIndex(of: 0x5b) {
            guard name[(open + 1)..<(name.count - 1)].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), open + 1 < name.count - 1 else { return false }
            name = name[..<open]
        }
        guard let first = name.first, isNameStart(first), name.allSatisfy(isNameChar) else { return false }
        return !PureConf.isDenied(String(decoding: name, as: UTF8.self))
    }

    /// A path in the kernel build tree: `$kernel_source_dir/<literal>` (no `..`),
    /// or `$kernel_config`.
    static func isKernelPath(_ w: Word) -> Bool {
        if w.parts == [.variable(kernelConfigVariable)] { return true }
        guard w.parts.count == 2, w.parts[0] == .variable(kernelDirVariable),
              case .literal(let rest) = w.parts[1], rest.first == 0x2f else { return false }
        return !String(decoding: rest, as: UTF8.self).split(separator: "/").contains("..")
    }

    static func isKernelConfig(_ w: Word) -> Bool {
        w.parts == [.variable(kernelConfigVariable)] || isKernelPath(w) && w.parts.last == .literal(Array("/.config".utf8))
    }

    static func command(_ words: [Word], programs: inout Set<String>) -> Bool {
        guard !words.isEmpty else { return true }
        if words.allSatisfy(isAssignment) { return true }
        // `A=b cmd` would run cmd with A in its environment: not taken.
        guard let name = words[0].plain else { return false }
        let args = Array(words.dropFirst())
        switch name {
        case "echo", "true", "false", ":":
            return true
        case "[", "test":
            var a = args
            if name == "[" { guard a.last?.plain == "]" else { return false }; a.removeLast() }
            let fileTests: Set<String> = ["-f", "-d", "-e", "-s"]
            let otherFileTests: Set<String> = ["-a", "-o", "-b", "-c", "-g", "-G", "-h", "-k", "-L", "-N", "-O", "-p", "-r",
                                               "-S", "-t", "-u", "-w", "-x", "-ef", "-nt", "-ot"]
            for (k, w) in a.enumerated() {
                guard let t = w.plain else { continue }
                if otherFileTests.contains(t) { return false }
                if fileTests.contains(t) { guard k + 1 < a.count, isKernelPath(a[k + 1]) else { return false } }
            }
            return true
        case ".", "source":
            return args.count == 1 && isKernelConfig(args[0])
        case "grep":
            var k = 0
            while k < args.count, let t = args[k].plain, t.hasPrefix("-"), t.count > 1 {
                guard t.dropFirst().allSatisfy({ "qEFwxis".contains($0) }) else { return false }
                k += 1
            }
            guard k < args.count else { return false }  // the pattern
            guard args[(k + 1)...].allSatisfy(isKernelPath) else { return false }
            programs.insert("grep")
            return true
        case "sort":
            guard args.allSatisfy({ a in a.plain.map { $0.hasPrefix("-") && $0.count > 1 && $0.dropFirst().allSatisfy { "VCcnrubf".contains($0) } } ?? false })
            else { return false }
            programs.insert("sort")
            return true
        default:
            return false
        }
    }
}
