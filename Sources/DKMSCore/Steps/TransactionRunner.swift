import Installer

/// Where every change a verb plans is carried out: one journaled transaction
/// of the Installer under the tree lock this run holds.
struct TransactionRunner {
    let context: Context
    var tree: DKMSTree { context.tree }
    var out: Output { context.output }

    /// Runs a plan as one journaled transaction: all of it happens, or none
    /// of it, even across a crash (the next run's recovery finishes or undoes it).
    func commit(_ plan: TransactionPlan) throws {
        guard !plan.steps.isEmpty else { return }
        guard let lock = context.run.lock else { throw DKMSError(.failure, "internal error: a transaction without the tree lock") }
        do {
            let outcome = try Transaction(dkmsTree: tree.root, lock: lock).run(plan, faults: &context.run.faults)
            for w in outcome.warnings { out.warn(w) }
        } catch let e as InstallerError {
            throw DKMSError(.installFailed, e.description)
        }
    }
}
