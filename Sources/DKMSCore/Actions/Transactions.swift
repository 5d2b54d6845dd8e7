import Installer
import ModuleTools
import Foundation
import Glibc
import BuildCache

/// The tree lock and crash-test hook of one run. A class because every
/// transaction in the run shares (and advances) the same fault counter.
public final class RunState {
    public var lock: TreeLock?
    public var faults: FaultInjector
    /// Kernel build trees already digested in this run.
    public var kernelDigests: [String: Digest] = [:]
    /// Kernel build trees being digested on other threads (see prefetch).
    public var pendingKernelDigests: [String: PendingDigest] = [:]
    /// dkms.conf evaluations of this run: a build then install reads it once.
    public var confs: [String: ModuleConfig] = [:]
    public var kernelConfigs = KernelConfigCache()
    /// Signing decisions of this run, by "kernel/arch": said once, before the first build.
    public var signing: [String: SigningDecision] = [:]
    /// Modules autoinstall installed or found installed (post_transaction runs when there are any).
    public var autoinstalled: [String] = []
    /// While set, depmod only notes the kernel (kernel_prerm's delayed depmod).
    public var delayDepmod = false
    public var depmodPending: Set<String> = []

    public init(lock: TreeLock? = nil, faults: FaultInjector = .disabled) {
        self.lock = lock
        self.faults = faults
    }
}

/// A digest computed on another thread; `wait` blocks until it is there.
public final class PendingDigest: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<Digest, Error>?

    init(_ work: @escaping @Sendable () throws -> Digest) {
        Thread.detachNewThread { [self] in
            result = Result { try work() }
            done.signal()
        }
    }

    func wait() throws -> Digest {
        done.wait()
        done.signal()
        return try result!.get()
    }
}

extension Engine {
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
