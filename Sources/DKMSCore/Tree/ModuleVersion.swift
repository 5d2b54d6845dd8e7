/// A module and one of its versions, the pair every dkms verb names
/// (`<module>/<module-version>`) and every path of the tree starts with. One value
/// travels down the pipeline instead of two loose strings that can be swapped.
/// Names are checked where they enter (the command line, a dkms.conf, the tree's
/// listing: `NameRules`); this value only carries them.
public struct ModuleVersion: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    public let version: String

    public init(_ name: String, _ version: String) {
        self.name = name; self.version = version
    }

    /// dkms's own spelling, as `status` and its messages print it.
    public var description: String { "\(name)/\(version)" }
}
