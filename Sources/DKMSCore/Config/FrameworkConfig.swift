import SafeFS

/// /etc/dkms/framework.conf and framework.conf.d/*.conf. Read as
/// `name=value` assignments, never executed: these files are root-owned, but
/// evaluating them would put a shell on the path of every `dkms status`.
/// `$name` and `${name}` refer to values assigned earlier.
public struct FrameworkConfig: Equatable {
    public var values: [String: String] = [:]

    public init(values: [String: String] = [:]) { self.values = values }

    public subscript(_ key: String) -> String? { values[key].flatMap { $0.isEmpty ? nil : $0 } }

    /// Files in the order dkms reads them: framework.conf, then the drop-ins sorted.
    public static func files(in dir: String) -> [String] {
        var files = ["\(dir)/framework.conf"]
        files += GlobOrder.sorted(FS.list("\(dir)/framework.conf.d").filter { $0.hasSuffix(".conf") })
            .map { "\(dir)/framework.conf.d/\($0)" }
        return files.filter { FS.isRegularFile($0) }
    }

    public static func load(dir: String) -> FrameworkConfig {
        var config = FrameworkConfig()
        for f in files(in: dir) {
            if let text = FS.readText(f) { config.parse(text) }
        }
        return config
    }

    public mutating func parse(_ text: String) {
        for rawLine in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            var line = rawLine.trimmingCharacters(in: " \t")
            if line.hasPrefix("#") || line.isEmpty { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingCharacters(in: " \t") }
            guard let eq = line.firstIndex(of: "="), eq > line.startIndex else { continue }
            let key = String(line[..<eq])
            guard key.allSatisfy({ $0 == "_" || $0.isASCII && ($0.isLetter || $0.isNumber) }) else { continue }
            values[key] = unquote(String(line[line.index(after: eq)...]))
        }
    }

    /// Shell-like value: quotes removed, trailing comment dropped, variables
    /// expanded from earlier assignments. No command substitution.
    func unquote(_ v: String) -> String {
        var out = ""
        var chars = Array(v)
        var i = 0
        var quote: Character? = nil
        while i < chars.count {
            let c = chars[i]
            if let q = quote {
                if c == q { quote = nil; i += 1; continue }
                if q == "\"" && c == "$" { i = expand(&chars, i, into: &out); continue }
                out.append(c); i += 1; continue
            }
            switch c {
            case "\"", "'": quote = c; i += 1
            case "#" where out.isEmpty || out.last == " ": return out.trimmingCharacters(in: " \t")
            case "$": i = expand(&chars, i, into: &out)
            case "\\" where i + 1 < chars.count: out.append(chars[i + 1]); i += 2
            default: out.append(c); i += 1
            }
        }
        return out.trimmingCharacters(in: " \t")
    }

    private func expand(_ chars: inout [Character], _ start: Int, into out: inout String) -> Int {
        var i = start + 1
        var name = ""
        if i < chars.count && chars[i] == "{" {
            i += 1
            while i < chars.count && chars[i] != "}" { name.append(chars[i]); i += 1 }
            i += 1
        } else {
            while i < chars.count, chars[i] == "_" || (chars[i].isASCII && (chars[i].isLetter || chars[i].isNumber)) {
                name.append(chars[i]); i += 1
            }
        }
        if name.isEmpty { out.append("$"); return start + 1 }
        // $kernelver is known only when a kernel is handled (dkms reads these
        // settings then): kept for the caller to substitute.
        if name == "kernelver" && values[name] == nil { out += "$kernelver"; return i }
        out += values[name] ?? ""
        return i
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
