import SafeFS

/// Finishes transactions a crash interrupted. Run it under the tree lock before any
/// state-changing command (the lock guarantees the journal's owner is dead).
///
/// A journal with a `commit` record is rolled forward (only aside copies and temp
/// files remain to be dropped); one without is rolled back by undoing every step
/// that has an intent record, newest first — including the step that was in
/// flight, whose undo copes with any partial progress. Every action checks the
/// filesystem first, so recovery interrupted at any point can simply run again.
public enum Recovery {
    public struct Report: Equatable, Sendable {
        public var rolledBack: [String] = []
        public var rolledForward: [String] = []
        /// Journals that were empty or had no intact `begin` record.
        public var discarded: [String] = []
        public var isEmpty: Bool { rolledBack.isEmpty && rolledForward.isEmpty && discarded.isEmpty }
    }

    @discardableResult
    public static func recover(dkmsTree: String, lock: TreeLock, faults: inout FaultInjector) throws -> Report {
        precondition(lock.isHeld, "recovery needs the tree lock")
        var report = Report()
        for path in Journal.pending(dkmsTree: dkmsTree) {
            let records = try Journal.read(path: path)
            guard case let .begin(id, _)? = records.first else {
                faults.point("recover: drop empty journal \(path)")
                try FS.unlinkIfPresent(path)
                report.discarded.append(path)
                continue
            }
            let intents = records.compactMap { r -> StepRecord? in
                if case let .intent(s) = r { return s } else { return nil }
            }
            let committed = records.contains(.commit)
            let executor = StepExecutor(transactionID: id)
            if committed {
                for r in intents { try executor.cleanup(r, faults: &faults) }
                report.rolledForward.append(id)
            } else {
                for r in intents.reversed() { try executor.undo(r, faults: &faults) }
                report.rolledBack.append(id)
            }
            faults.point("recover: delete journal \(path)")
            try FS.unlinkIfPresent(path)
            try FS.syncDirectoryIfSupported(FS.parent(path))
        }
        // Staging areas belong to a transaction in progress; under the lock none is.
        let staging = ModuleStaging.root(dkmsTree: dkmsTree)
        for name in FS.listDirectory(staging) {
            try FS.removeTreeReporting(FS.join(staging, name))
        }
        return report
    }
}
