// A minimal, strict JSON reader used for profiles and limits.
//
// Why not JSONDecoder/JSONSerialization: profile numbers are uint64 (seccomp argument values such
// as 18446744073709551615) and must never pass through Double, and the loaders must reject
// unknown keys, which Codable silently ignores. Numbers are therefore kept as their source text
// and converted exactly by the caller; objects keep their keys in order for error messages.

import Foundation

indirect enum JSONValue: Equatable {
    case object([(String, JSONValue)])
    case array([JSONValue])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case let (.object(a), .object(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.array(a), .array(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        case let (.number(a), .number(b)): return a == b
        case let (.bool(a), .bool(b)): return a == b
        case (.null, .null): return true
        default: return false
        }
    }

    var typeName: String {
        switch self {
        case .object: return "object"
        case .array: return "array"
        case .string: return "string"
        case .number: return "number"
        case .bool: return "boolean"
        case .null: return "null"
        }
    }
}

struct JSONParser {
    private let bytes: [UInt8]
    private var pos = 0

    static func parse(_ data: Data) throws -> JSONValue {
        var p = JSONParser(bytes: [UInt8](data))
        p.skipWS()
        let v = try p.value(depth: 0)
        p.skipWS()
        guard p.pos == p.bytes.count else { throw p.error("trailing characters") }
        return v
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private func error(_ msg: String) -> SandboxError {
        .invalidJSON("\(msg) at byte \(pos)")
    }

    private mutating func skipWS() {
        while pos < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[pos]) { pos += 1 }
    }

    private mutating func value(depth: Int) throws -> JSONValue {
        guard depth < 64 else { throw error("nesting too deep") }
        guard pos < bytes.count else { throw error("unexpected end") }
        switch bytes[pos] {
        case UInt8(ascii: "{"):
            pos += 1
            var members: [(String, JSONValue)] = []
            skipWS()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(members) }
            while true {
                skipWS()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw error("expected key") }
                let key = try string()
                if members.contains(where: { $0.0 == key }) { throw error("duplicate key \"\(key)\"") }
                skipWS()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw error("expected ':'") }
                pos += 1
                skipWS()
                members.append((key, try value(depth: depth + 1)))
                skipWS()
                guard pos < bytes.count else { throw error("unexpected end") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(members) }
                throw error("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            pos += 1
            var items: [JSONValue] = []
            skipWS()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
            while true {
                skipWS()
                items.append(try value(depth: depth + 1))
                skipWS()
                guard pos < bytes.count else { throw error("unexpected end") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
                throw error("expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default:
            return .number(try number())
        }
    }

    private mutating func literal(_ s: String) throws {
        let u = Array(s.utf8)
        guard pos + u.count <= bytes.count, Array(bytes[pos..<pos + u.count]) == u else { throw error("invalid literal") }
        pos += u.count
    }

    private mutating func number() throws -> String {
        let start = pos
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        let digitsStart = pos
        while pos < bytes.count, (0x30...0x39).contains(bytes[pos]) { pos += 1 }
        guard pos > digitsStart else { throw error("invalid number") }
        if bytes[digitsStart] == 0x30, pos - digitsStart > 1 { throw error("leading zero") }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
            pos += 1
            let f = pos
            while pos < bytes.count, (0x30...0x39).contains(bytes[pos]) { pos += 1 }
            guard pos > f else { throw error("invalid number") }
        }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
            pos += 1
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            let e = pos
            while pos < bytes.count, (0x30...0x39).contains(bytes[pos]) { pos += 1 }
            guard pos > e else { throw error("invalid number") }
        }
        return String(decoding: bytes[start..<pos], as: UTF8.self)
    }

    private mutating func hex4() throws -> UInt32 {
        guard pos + 4 <= bytes.count else { throw error("bad \\u escape") }
        guard let v = UInt32(String(decoding: bytes[pos..<pos + 4], as: UTF8.self), radix: 16) else {
            throw error("bad \\u escape")
        }
        pos += 4
        return v
    }

    private mutating func string() throws -> String {
        pos += 1 // opening quote
        var out = [UInt8]()
        while true {
            guard pos < bytes.count else { throw error("unterminated string") }
            let c = bytes[pos]
            pos += 1
            if c == UInt8(ascii: "\"") { break }
            if c < 0x20 { throw error("control character in string") }
            if c != UInt8(ascii: "\\") { out.append(c); continue }
            guard pos < bytes.count else { throw error("unterminated escape") }
            let e = bytes[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard pos + 2 <= bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
                        throw error("lone surrogate")
                    }
                    pos += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw error("bad surrogate pair") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let u = Unicode.Scalar(scalar) else { throw error("invalid code point") }
                out.append(contentsOf: Array(String(Character(u)).utf8))
            default: throw error("invalid escape")
            }
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw error("invalid UTF-8") }
        return s
    }
}

/// Helpers for strict object decoding: unknown keys are errors, numbers are exact.
struct JSONObjectReader {
    let members: [(String, JSONValue)]
    let context: String

    init(_ value: JSONValue, context: String, allowedKeys: Set<String>) throws {
        guard case let .object(m) = value else {
            throw SandboxError.invalidProfile("\(context): expected an object, found \(value.typeName)")
        }
        for (k, _) in m where !allowedKeys.contains(k) {
            throw SandboxError.invalidProfile("\(context): unknown key \"\(k)\"")
        }
        members = m
        self.context = context
    }

    func has(_ key: String) -> Bool { members.contains { $0.0 == key } }
    func raw(_ key: String) -> JSONValue? { members.first { $0.0 == key }?.1 }

    func string(_ key: String) throws -> String? {
        guard let v = raw(key) else { return nil }
        guard case let .string(s) = v else {
            throw SandboxError.invalidProfile("\(context).\(key): expected a string, found \(v.typeName)")
        }
        return s
    }

    func uint64(_ key: String) throws -> UInt64? {
        guard let v = raw(key) else { return nil }
        return try JSONObjectReader.exactUInt64(v, context: "\(context).\(key)")
    }

    func array(_ key: String) throws -> [JSONValue]? {
        guard let v = raw(key) else { return nil }
        guard case let .array(a) = v else {
            throw SandboxError.invalidProfile("\(context).\(key): expected an array, found \(v.typeName)")
        }
        return a
    }

    func strings(_ key: String) throws -> [String]? {
        guard let a = try array(key) else { return nil }
        return try a.enumerated().map { i, v in
            guard case let .string(s) = v else {
                throw SandboxError.invalidProfile("\(context).\(key)[\(i)]: expected a string, found \(v.typeName)")
            }
            return s
        }
    }

    /// Exact: only plain non-negative integer literals that fit in 64 bits.
    static func exactUInt64(_ v: JSONValue, context: String) throws -> UInt64 {
        guard case let .number(text) = v else {
            throw SandboxError.invalidProfile("\(context): expected an unsigned integer, found \(v.typeName)")
        }
        guard let n = UInt64(text, radix: 10) else {
            throw SandboxError.invalidProfile("\(context): \(text) is not an unsigned 64-bit integer")
        }
        return n
    }
}
