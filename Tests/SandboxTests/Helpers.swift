import Foundation
import XCTest
@testable import Sandbox
import TestSupport

enum T {
    static let packageRoot = URL(fileURLWithPath: Repo.root)
    static let profilesDir = packageRoot.appendingPathComponent("sandbox-profiles")
    static let kernels = Kernels.all
    static let kernel = Kernels.first
    static let headers = "/lib/modules/\(kernel)/build"

    static func profile(_ name: String = "kbuild") throws -> SandboxProfile {
        try SandboxProfile.load(seccompJSON: profilesDir.appendingPathComponent("\(name).json"),
                                limitsJSON: profilesDir.appendingPathComponent("\(name).limits.json"))
    }

    /// A world-traversable scratch dir (the sandbox's outside uid must be able to reach binds).
    static func scratch(_ tag: String = "t") throws -> String {
        makeTempDir("csb-test-\(tag)", mode: 0o755)
    }

    static func run(_ argv: [String], profile: SandboxProfile? = nil, mounts: [SandboxSpec.Mount] = [],
                    cwd: String = "/", env: [String: String] = [:], limits: ((inout SandboxLimits) -> Void)? = nil,
                    headers: [String] = [T.headers]) throws -> SandboxResult {
        let p = try profile ?? T.profile()
        var spec = SandboxSpec(argv: argv, env: SandboxSpec.environment(env), cwd: cwd, mounts: mounts,
                               headersDirs: headers, profile: p)
        if let l = limits { l(&spec.limits) }
        return try Sandbox.run(spec)
    }

    static func sh(_ script: String, profile: SandboxProfile? = nil, mounts: [SandboxSpec.Mount] = [],
                   limits: ((inout SandboxLimits) -> Void)? = nil) throws -> SandboxResult {
        try run(["/bin/sh", "-c", script], profile: profile, mounts: mounts, limits: limits)
    }

    /// Compile a C helper with gcc into `dir`.
    static func compileC(_ source: String, name: String, in dir: String, flags: [String] = []) throws -> String {
        let src = "\(dir)/\(name).c", out = "\(dir)/\(name)"
        try source.write(toFile: src, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/gcc")
        p.arguments = ["-O1", "-o", out, src] + flags
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "gcc \(name)")
        return out
    }

    static func chownTree(_ path: String, uid: UInt32 = 2_000_000_000) {
        _ = chown(path, uid, uid)
    }
}
