/// What an action says, as a value. A pipeline that returns its messages can be tested
/// by what it would print, and leaves the printing (and `-q`) to the command line:
/// `Output.say` writes them to the two streams in order.
public enum Message: Equatable {
    /// A line on stdout.
    case line(String)
    /// A line on stderr, as it is.
    case errorLine(String)
    /// dkms's "Error! ..." block on stderr (the lines of a DKMSError).
    case error([String])
    /// dkms's "Warning: ..." on stderr.
    case warning(String)
}

extension Output {
    public func say(_ messages: [Message]) {
        for m in messages {
            switch m {
            case let .line(s): line(s)
            case let .errorLine(s): errorLine(s)
            case let .error(lines): error(lines: lines)
            case let .warning(s): warn(s)
            }
        }
    }
}
