import Foundation
import Glibc

/// Asks `done` every 100 ms until it holds or `seconds` pass, and returns its last answer:
/// for what another process does in its own time (a lock reached, a straggler reaped),
/// instead of a fixed sleep that is too short on a loaded machine and too long on an idle one.
public func waitFor(seconds: Double = 60, _ done: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if done() { return true }
        usleep(100_000)
    }
    return done()
}

/// "pid N: command line" for every process but this one whose command line holds `needle`.
public func processes(withCommandLineContaining needle: String) -> [String] {
    let me = getpid()
    return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { p in
        guard let pid = Int32(p), pid != me else { return nil }
        let cmd = read("/proc/\(p)/cmdline").replacingOccurrences(of: "\0", with: " ")
        return cmd.contains(needle) ? "pid \(p): \(cmd)" : nil
    }
}
