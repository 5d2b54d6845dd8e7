import Glibc

/// The one error a POSIX call's failure becomes, in every library: which
/// call (its name: "mkdir", "open", "posix_spawn"), on which path, and the
/// errno it left. Callers that word failures their own way (dkms's "Cannot
/// remove ...", the installer's) take the fields; the description, as
/// BuildCache has always printed it, is for everyone else.
public struct IOFailure: Error, Equatable, CustomStringConvertible {
    public var operation: String
    public var path: String
    public var errno: Int32
    public init(_ operation: String, _ path: String, _ e: Int32 = Glibc.errno) { self.operation = operation; self.path = path; self.errno = e }
    /// strerror's wording ("No such file or directory").
    public var reason: String { FS.errnoText(errno) }
    public var description: String { "\(operation)(\(path)): \(reason)" }
}
