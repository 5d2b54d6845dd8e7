/// A failure that ends a dkms action. dkms scripts and hooks branch on the
/// exit codes (77 = BUILD_EXCLUSIVE skip, 10 = build failure, ...), so each
/// error carries the code the reference implementation uses.
public struct DKMSError: Error, Equatable, CustomStringConvertible {
    public let exitCode: Int32
    /// First line follows "Error! "; further lines are printed as they are.
    public let lines: [String]

    public init(_ exitCode: Int32, _ lines: String...) {
        self.exitCode = exitCode
        self.lines = lines
    }

    public init(exitCode: Int32, lines: [String]) {
        self.exitCode = exitCode
        self.lines = lines
    }

    public var description: String { "Error! " + lines.joined(separator: "\n") }

    /// Exit code dkms uses when a BUILD_EXCLUSIVE directive excludes the target.
    public static let buildExclusiveSkip: Int32 = 77
}
