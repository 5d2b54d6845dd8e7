import Glibc

/// `[[ $s =~ $re ]]`: an unanchored POSIX extended regex, as bash compiles it.
public enum BashRegex {
    public static func matches(_ s: String, _ pattern: String) -> Bool {
        var re = regex_t()
        guard regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) == 0 else { return false }
        defer { regfree(&re) }
        return regexec(&re, s, 0, nil, 0) == 0
    }
}
