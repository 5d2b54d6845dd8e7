import Installer
import ModuleTools
import Foundation
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
    /// The build cache's store, opened once per run (by its root) and shared by
    /// the key lookup, the signature cache and the pins.
    var cacheStores: [String: CacheStore] = [:]

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
