// swift-tools-version:5.10
import PackageDescription

let package = Package(
    name: "dkms-swift",
    products: [
        .executable(name: "dkms", targets: ["dkms"]),
    ],
    targets: [
        .executableTarget(name: "dkms", dependencies: ["DKMSCore", "SafeFS"]),
        .target(name: "DKMSCore", dependencies: ["BuildCache", "Installer", "ModuleTools", "Sandbox", "SafeFS"]),
        // The file-system layer every library reads module-controlled data through: paths resolved
        // beneath a root without links (openat2), bounded reads, descriptor-only tree copies.
        .target(name: "CSafeFS"),
        .target(name: "SafeFS", dependencies: ["CSafeFS"]),
        .testTarget(name: "SafeFSTests", dependencies: ["SafeFS"]),
        // The code between clone() and execve(): C, because the Swift runtime may hold locks
        // and threads there. Links libseccomp and libcap (Debian's -dev packages).
        .target(name: "CSandbox", cSettings: [.define("_GNU_SOURCE")],
                linkerSettings: [.linkedLibrary("seccomp"), .linkedLibrary("cap")]),
        .target(name: "Sandbox", dependencies: ["CSandbox", "SafeFS"]),
        // What every test target shares: the installed kernels, the checkout and its built
        // executables, running commands, scratch directories.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "SandboxTests", dependencies: ["Sandbox", "TestSupport"]),
        // Journaled, all-or-nothing changes to the dkms and install trees, and their crash recovery.
        .target(name: "Installer", dependencies: ["SafeFS"]),
        .executableTarget(name: "installer-crash-helper", dependencies: ["Installer"]),
        .testTarget(name: "InstallerTests", dependencies: ["Installer", "SafeFS", "installer-crash-helper", "TestSupport"]),
        // What a module file goes through after the build: signing, compression, depmod, and the
        // target kernel's .config that decides the first two. Runs external tools; no transactions.
        .target(name: "ModuleTools", dependencies: ["SafeFS"]),
        .testTarget(name: "ModuleToolsTests", dependencies: ["ModuleTools", "SafeFS", "TestSupport"]),
        // libcrypto's SHA-256 (SHA-NI): the cache hashes whole kernel header trees.
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .target(name: "BuildCache", dependencies: ["COpenSSL", "SafeFS"]),
        .executableTarget(name: "cache-bench", dependencies: ["BuildCache"]),
        .executableTarget(name: "cache-lock-helper", dependencies: ["BuildCache"]),
        .testTarget(name: "BuildCacheTests", dependencies: ["BuildCache", "SafeFS", "cache-lock-helper", "TestSupport"]),
        .testTarget(name: "DKMSCoreTests", dependencies: ["DKMSCore", "SafeFS", "TestSupport"]),
        .testTarget(name: "IntegrationTests", dependencies: ["DKMSCore", "TestSupport"]),
        // Random and mutated inputs for the supervisor's parsers (scripts/fuzz.sh); debug builds.
        .executableTarget(name: "dkms-fuzz", dependencies: ["DKMSCore", "BuildCache", "Installer", "SafeFS"]),
    ]
)
