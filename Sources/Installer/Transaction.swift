/// Runs a `TransactionPlan` all-or-nothing against a dkms tree and install tree.
///
/// Protocol, per step: journal `intent` (with the facts undo needs) → do it →
/// journal `done`. After the last step: journal `commit` (the commit point), drop
/// the aside copies kept for undo, delete the journal. A failure before commit
/// undoes the completed steps in reverse right away; a crash leaves the journal
/// for `Recovery`, which makes the same decision from the journal alone.
///
/// Requires the caller to hold the `TreeLock`: the undo logic assumes that nobody
/// else changes the files a transaction touches.
public struct Transaction {
    public let dkmsTree: String
    public let id: String

    public init(dkmsTree: String, lock: TreeLock, id: String? = nil) {
        precondition(lock.isHeld, "a transaction needs the tree lock")
        self.dkmsTree = dkmsTree
        self.id = id ?? Journal.newID()
    }

    /// Executes the plan. Returns the number of fault points passed (handy for tests).
    /// Throws the first step error after rolling back; if the rollback itself fails,
    /// throws `.rollbackFailed` and leaves the journal for recovery.
    @discardableResult
    public func run(_ plan: TransactionPlan, faults: inout FaultInjector) throws -> TransactionOutcome {
        let journal = try Journal.create(dkmsTree: dkmsTree, id: id, description: plan.description, faults: &faults)
        let executor = StepExecutor(transactionID: id)
        var started: [StepRecord] = []
        do {
            for (i, step) in plan.steps.enumerated() {
                let record = try executor.prepare(step, index: i)
                try journal.append(.intent(record), faults: &faults)
                started.append(record)
                do { try executor.apply(record, faults: &faults) } catch let InstallerError.io(op, path, code) {
                    // Say what the failing syscall was for; the path alone can puzzle.
                    throw InstallerError.io(operation: "\(op) (\(step.purpose))", path: path, errno: code)
                }
                try journal.append(.done(index: i), faults: &faults, sync: false)
            }
            try journal.append(.commit, faults: &faults)
        } catch {
            do {
                for r in started.reversed() { try executor.undo(r, faults: &faults) }
                try journal.finish(faults: &faults)
            } catch let undoError {
                throw InstallerError.rollbackFailed(journal: journal.path, cause: "\(error)", undoError: "\(undoError)")
            }
            throw error
        }
        // Past the commit point: the new state is decided. A failure while tidying is
        // not a failed install; recovery will finish the tidying from the journal.
        var cleanupWarnings: [String] = []
        do {
            for r in started { try executor.cleanup(r, faults: &faults) }
            try journal.finish(faults: &faults)
        } catch {
            cleanupWarnings.append("committed, but cleanup is incomplete (\(error)); recovery will finish it")
        }
        return TransactionOutcome(id: id, stepsApplied: started.count, faultPoints: faults.count, warnings: cleanupWarnings)
    }
}

public struct TransactionOutcome: Equatable, Sendable {
    public var id: String
    public var stepsApplied: Int
    /// Fault points passed so far by the injector used (journal + filesystem steps).
    public var faultPoints: Int
    public var warnings: [String]
}
