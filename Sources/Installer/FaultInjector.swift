import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Crash-test hook: counts every journal write and filesystem step and, when told
/// to, SIGKILLs the process right before step N. SIGKILL (not an exception or
/// exit) because a real crash gives no chance to run cleanup code, and the tests
/// must prove the journal alone is enough.
///
/// Passed explicitly (inout) rather than read from a global, so library users who
/// never set the variables pay nothing and tests can drive it in-process.
public struct FaultInjector: Sendable {
    /// Kill right before this 1-based step; nil = never.
    public var killAt: Int?
    /// Record step labels (for `DKMS_FAULT_LIST=1` and for debugging a failing point).
    public var recordLabels: Bool
    public private(set) var count = 0
    public private(set) var labels: [String] = []

    public init(killAt: Int? = nil, recordLabels: Bool = false) {
        self.killAt = killAt
        self.recordLabels = recordLabels
    }

    public static let disabled = FaultInjector()

    /// `DKMS_FAULT_KILL_AT=N` arms the kill; `DKMS_FAULT_LIST=1` records labels.
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> FaultInjector {
        let killAt = env["DKMS_FAULT_KILL_AT"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil }
        return FaultInjector(killAt: killAt, recordLabels: env["DKMS_FAULT_LIST"] == "1")
    }

    /// Called immediately before each step that changes durable state.
    public mutating func point(_ label: String) {
        count += 1
        if recordLabels { labels.append(label) }
        if let k = killAt, count == k {
            kill(getpid(), SIGKILL)
            // SIGKILL to self is delivered before kill() returns on Linux; never continue.
            while true { pause() }
        }
    }
}
