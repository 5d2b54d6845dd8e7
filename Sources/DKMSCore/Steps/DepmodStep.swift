import ModuleTools
import SafeFS

/// depmod after a change to a kernel's modules, said as dkms says it.
struct DepmodStep {
    let context: Context
    var tree: DKMSTree { context.tree }
    var out: Output { context.output }

    /// depmod for one kernel, on the install tree's base directory.
    func run(_ kernel: String) {
        // kernel_prerm runs it once, after every module is gone.
        if context.run.delayDepmod { context.run.depmodPending.insert(kernel); return }
        out.text("Running depmod...")
        defer { out.line(" done.") }
        if context.invocation.noDepmod { return }
        let modulesDep = "\(tree.libTree(kernel))/modules.dep"
        guard FS.exists(modulesDep) else { return }
        do { try Depmod(runner: ProcessRunner(environment: Spawn.baseEnvironment)).run(kernel: kernel, installTree: tree.installTree) }
        // An install tree depmod cannot index (not <base>/lib/modules) is skipped.
        catch ToolError.invalidArgument { return }
        catch ToolError.depmodFailed(_, let status, let stderr) {
            out.line("(bad exit status: \(status))")
            out.warn("depmod failed for kernel \(kernel): \(stderr.trimmingCharacters(in: "\n"))")
        } catch { out.warn("depmod failed for kernel \(kernel): \(error)") }
    }
}
