/// A failure that ends a dkms action. dkms scripts and hooks branch on the
/// exit codes (77 = BUILD_EXCLUSIVE skip, 10 = build failure, ...), so each
/// error carries the code the reference implementation uses, by name
/// (`DKMSError.Code`).
public struct DKMSError: Error, Equatable, CustomStringConvertible {
    public let code: Code
    /// First line follows "Error! "; further lines are printed as they are.
    public let lines: [String]

    public init(_ code: Code, _ lines: String...) {
        self.code = code
        self.lines = lines
    }

    public init(_ code: Code, lines: [String]) {
        self.code = code
        self.lines = lines
    }

    /// What the process exits with.
    public var exitCode: Int32 { code.rawValue }

    public var description: String { "Error! " + lines.joined(separator: "\n") }
}
