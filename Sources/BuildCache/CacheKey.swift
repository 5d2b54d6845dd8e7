/// The build key: SHA-256 over the canonical encoding of the *component digests* of a
/// BuildInputs value. Hashing component digests (rather than all raw fields in one stream)
/// lets `explain()` show exactly which component changed when an expected hit misses.
public struct CacheKey: Hashable, Sendable, CustomStringConvertible {
    /// Version of this key format and of the build recipe behind it.
    public static let currentSchema: UInt32 = 1

    public let digest: Digest
    /// Component name -> digest, in canonical order; the key is a hash of exactly this list.
    public let components: [(name: String, digest: Digest)]

    public var hex: String { digest.hex }
    /// 12 hex chars for logs; never use for lookups.
    public var short: String { digest.short }
    public var description: String { hex }

    public static func == (a: CacheKey, b: CacheKey) -> Bool { a.digest == b.digest }
    public func hash(into h: inout Hasher) { h.combine(digest) }

    static func component(_ name: String, _ fill: (inout CanonicalEncoder) -> Void) -> (name: String, digest: Digest) {
        var e = CanonicalEncoder(domain: "buildcache.key.component.v1")
        e.append(name)
        fill(&e)
        return (name, e.digest())
    }

    /// The kernel-tree component (name and digest, as `explain()` gives them) of a key built
    /// against a kernel tree whose digest is `kernelTree`: lets maintenance tell whether a
    /// stored record was built against the headers a kernel has now.
    public static func kernelTreeComponent(_ kernelTree: Digest) -> (name: String, digest: Digest) {
        component("kernel-tree") { $0.append(kernelTree) }
    }

    public init(_ inputs: BuildInputs) {
        let enc = CacheKey.component
        let comps: [(name: String, digest: Digest)] = [
            enc("schema") { $0.append(UInt64(inputs.schemaVersion)) },
            enc("salt") { $0.append(inputs.salt) },
            enc("module-source") { $0.append(inputs.moduleSource) },
            enc("config") { $0.append(inputs.config) },
            CacheKey.kernelTreeComponent(inputs.kernelTree),
            enc("toolchain") { e in
                let sorted = inputs.toolchain.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
                e.append(UInt64(sorted.count))
                for (role, d) in sorted { e.append(role); e.append(d) }
            },
            enc("make-argv") { $0.append(inputs.makeArgv) },
            enc("environment") { $0.append(inputs.environment) },
            enc("arch") { $0.append(inputs.arch) },
            enc("sandbox-profile") { $0.append(inputs.sandboxProfile) },
        ]
        var top = CanonicalEncoder(domain: "buildcache.key.v1")
        top.append(UInt64(comps.count))
        for c in comps { top.append(c.name); top.append(c.digest) }
        self.digest = top.digest()
        self.components = comps
    }

    /// Component digests for logging or storing next to a record, e.g.
    /// `["schema": "…", "module-source": "…", …]`.
    public func explain() -> [(component: String, digest: String)] {
        components.map { ($0.name, $0.digest.hex) }
    }

    /// Names of the components that differ between two keys: the diagnosis of a miss.
    public func differences(from other: CacheKey) -> [String] {
        zip(components, other.components).filter { $0.0.digest != $0.1.digest }.map { $0.0.name }
    }
}
