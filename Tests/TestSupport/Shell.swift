import Foundation

/// What one command did.
public struct Run {
    /// As a shell reports it: the exit status, or 128+N for a child killed by signal N.
    public var status: Int32
    /// The signal that killed it, if one did.
    public var signal: Int32?
    public var stdout: String
    public var stderr: String
    public var all: String { stdout + stderr }
    public var signaled: Bool { signal != nil }

    public init(status: Int32, signal: Int32? = nil, stdout: String, stderr: String) {
        self.status = status; self.signal = signal; self.stdout = stdout; self.stderr = stderr
    }
}

/// Runs `argv` (a bare name is looked up in PATH) with stdin from /dev/null, both outputs
/// captured; `env` is added to the test's environment (LC_ALL=C), `unset` removed from it.
public func sh(_ argv: [String], cwd: String? = nil, env: [String: String]? = nil, unset: [String] = []) -> Run {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: argv[0].hasPrefix("/") ? argv[0] : "/usr/bin/env")
    p.arguments = argv[0].hasPrefix("/") ? Array(argv.dropFirst()) : argv
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    var environment = ProcessInfo.processInfo.environment
    environment["LC_ALL"] = "C"
    for name in unset { environment.removeValue(forKey: name) }
    for (k, v) in env ?? [:] { environment[k] = v }
    p.environment = environment
    let out = Pipe(), err = Pipe()
    p.standardOutput = out; p.standardError = err
    p.standardInput = FileHandle(forReadingAtPath: "/dev/null")
    do { try p.run() } catch {
        return Run(status: 127, stdout: "", stderr: "cannot run \(argv[0]): \(error)\n")
    }
    // Both pipes at once, so that neither fills up while the other is read.
    final class Box: @unchecked Sendable { var data = Data() }
    let errBox = Box()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async { errBox.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    p.waitUntilExit()
    let signaled = p.terminationReason == .uncaughtSignal
    return Run(status: signaled ? 128 + p.terminationStatus : p.terminationStatus,
               signal: signaled ? p.terminationStatus : nil,
               stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errBox.data, as: UTF8.self))
}
