import ModuleTools
/// The whole install / uninstall / remove flow: recover leftovers, prepare files
/// (sign, then compress), plan, run the transaction, then depmod once per kernel.
/// The caller takes the `TreeLock` (one lock per command, possibly many modules).
public struct InstallerOptions: Sendable {
    public var layout: DKMSLayout
    /// Module destination below the kernel dir (dkms default on Debian: /updates/dkms).
    public var destination: String = "/updates/dkms"
    /// Where `<k>/build/.config` and `<k>/build/scripts/sign-file` are looked up.
    /// Separate from the install tree so tests can install into a temp tree while
    /// reading the real kernel headers.
    public var kernelSourceRoot: String = "/lib/modules"
    public var compression = CompressionPolicy()
    /// nil: do not sign at all (dkms always tries; the CLI should pass settings).
    public var signing: SigningSettings?
    public var runDepmod = true
    public var depmod = Depmod()
    public var backupOriginals = true
    public var originalLocations: [String: String] = [:]
    public var compressor = Compressor()

    public init(layout: DKMSLayout) { self.layout = layout }
}

public struct InstallReport: Sendable {
    public var transaction: TransactionOutcome?
    public var plan: TransactionPlan
    /// Final paths of the installed module files.
    public var installedFiles: [String] = []
    public var compression: ModuleCompression = .none
    public var signing: SigningDecision?
    /// Things the user must see: planning notes, signing skipped, cleanup incomplete.
    public var warnings: [String] = []
    /// depmod failed: modules are installed and committed, but the index is stale.
    public var depmodErrors: [ToolError] = []
    public var recovery: Recovery.Report = .init()
}

public struct Installer: Sendable {
    public var options: InstallerOptions

    public init(options: InstallerOptions) { self.options = options }

    var planner: InstallPlanner {
        InstallPlanner(layout: options.layout, backupOriginals: options.backupOriginals,
                       originalLocations: options.originalLocations)
    }

    public func install(module: String, version: String, kernel: String, arch: String,
                        lock: TreeLock, faults: inout FaultInjector) throws -> InstallReport {
        let layout = options.layout
        for (v, w) in [(module, "module name"), (version, "module version"), (kernel, "kernel version"), (arch, "arch")] {
            try DKMSLayout.validateComponent(v, what: w)
        }
        let recovery = try Recovery.recover(dkmsTree: layout.dkmsTree, lock: lock, faults: &faults)
        guard FS.kind(layout.kernelDirectory(kernel)) == .directory else {
            throw InstallerError.conflict(path: layout.kernelDirectory(kernel), reason: "kernel directory does not exist; cannot install a module onto a non-existent kernel")
        }
        let built = layout.builtModules(module, version, kernel, arch)
        guard !built.isEmpty else {
            throw InstallerError.noBuiltModules(directory: layout.builtModuleDirectory(module, version, kernel, arch))
        }
        var warnings: [String] = []
        let configPath = KernelConfig.defaultPath(kernel: kernel, installTree: options.kernelSourceRoot)
        let config: KernelConfig
        if FS.exists(configPath) {
            config = try KernelConfig.load(path: configPath)
        } else {
            config = KernelConfig()
            warnings.append("warning: \(configPath): kernel config not found; not compressing (unless overridden) and not signing")
        }
        let compression = options.compression.method(for: config)
        var decision: SigningDecision?
        var signer: Signer?
        if let s = options.signing {
            signer = Signer(settings: s)
            decision = try signer!.prepare(kernel: kernel, config: config, installTree: options.kernelSourceRoot)
            if case let .skip(reason, true)? = decision { warnings.append(reason) }
        }
        var signs = false
        if case .sign? = decision { signs = true }

        let transaction = Transaction(dkmsTree: layout.dkmsTree, lock: lock)
        let staging = ModuleStaging(dkmsTree: layout.dkmsTree, id: transaction.id, compressor: options.compressor)
        defer { staging.discard() }
        let files: [(name: String, path: String)]
        if !signs && built.allSatisfy({ ModuleCompression.of(fileName: FS.basename($0)) == compression }) {
            // Nothing to transform: install the built files themselves.
            files = built.map { (ModuleCompression.moduleName(fileName: FS.basename($0))!, $0) }
        } else {
            files = try staging.prepare(files: built, compression: compression, signer: signer, signing: decision)
                .map { ($0.name, $0.path) }
        }
        let plan = try planner.install(module: module, version: version, kernel: kernel, arch: arch,
                                       files: files, destination: options.destination)
        var report = InstallReport(plan: plan)
        report.recovery = recovery
        report.compression = compression
        report.signing = decision
        report.transaction = try transaction.run(plan, faults: &faults)
        report.installedFiles = files.map { FS.join(layout.destinationDirectory(kernel, location: options.destination), FS.basename($0.path)) }
        report.warnings = warnings + plan.warnings + (report.transaction?.warnings ?? [])
        report.depmodErrors = runDepmod(plan.touchedKernels)
        return report
    }

    /// `names`: the module names (dkms.conf DEST_MODULE_NAME); nil = from the built files.
    public func uninstall(module: String, version: String, kernel: String, arch: String, names: [String]? = nil,
                          lock: TreeLock, faults: inout FaultInjector) throws -> InstallReport {
        let recovery = try Recovery.recover(dkmsTree: options.layout.dkmsTree, lock: lock, faults: &faults)
        let plan = try planner.uninstall(module: module, version: version, kernel: kernel, arch: arch,
                                         names: names ?? moduleNames(module, version, kernel, arch), destination: options.destination)
        return try execute(plan, lock: lock, recovery: recovery, faults: &faults)
    }

    public func remove(module: String, version: String, kernels: [(kernel: String, arch: String)], names: [String]? = nil,
                       lock: TreeLock, faults: inout FaultInjector) throws -> InstallReport {
        let recovery = try Recovery.recover(dkmsTree: options.layout.dkmsTree, lock: lock, faults: &faults)
        let plan = try planner.remove(module: module, version: version, kernels: kernels,
                                      names: { k, a in names ?? moduleNames(module, version, k, a) }, destination: options.destination)
        return try execute(plan, lock: lock, recovery: recovery, faults: &faults)
    }

    private func execute(_ plan: TransactionPlan, lock: TreeLock, recovery: Recovery.Report,
                         faults: inout FaultInjector) throws -> InstallReport {
        var report = InstallReport(plan: plan)
        report.recovery = recovery
        report.transaction = try Transaction(dkmsTree: options.layout.dkmsTree, lock: lock).run(plan, faults: &faults)
        report.warnings = plan.warnings + (report.transaction?.warnings ?? [])
        report.depmodErrors = runDepmod(plan.touchedKernels)
        return report
    }

    /// Names from the built files. If the built directory is gone (damaged tree) this is
    /// empty and only the marker link goes: callers with dkms.conf pass `names` instead.
    private func moduleNames(_ module: String, _ version: String, _ kernel: String, _ arch: String) -> [String] {
        let built = options.layout.builtModules(module, version, kernel, arch)
            .compactMap { ModuleCompression.moduleName(fileName: FS.basename($0)) }
        return Array(Set(built)).sorted()
    }

    private func runDepmod(_ kernels: [String]) -> [ToolError] {
        guard options.runDepmod else { return [] }
        var errors: [ToolError] = []
        for k in kernels {
            do { try options.depmod.run(kernel: k, installTree: options.layout.installTree) }
            catch let e as ToolError { errors.append(e) }
            catch { errors.append(.depmodFailed(kernel: k, status: -1, stderr: "\(error)")) }
        }
        return errors
    }
}
