/// Runs `depmod` once per touched kernel, after commit.
///
/// depmod only understands an install tree as `<base>/lib/modules/<kver>`: for the
/// default `/lib/modules` it runs plainly, for `<x>/lib/modules` it gets `-b <x>`,
/// anything else cannot be indexed and is an error up front.
public struct Depmod: Sendable {
    public var executable: String
    public var runner: ProcessRunner

    public init(executable: String = "depmod", runner: ProcessRunner = ProcessRunner()) {
        self.executable = executable
        self.runner = runner
    }

    /// nil = no `-b` needed (the real /lib/modules).
    public static func baseDirectory(installTree: String) throws -> String? {
        var tree = installTree
        while tree.count > 1 && tree.hasSuffix("/") { tree.removeLast() }
        if tree == "/lib/modules" || tree == "/usr/lib/modules" { return nil }
        guard tree.hasSuffix("/lib/modules") else {
            throw ToolError.invalidArgument("\(installTree): depmod needs the install tree to end in /lib/modules (as <base>/lib/modules/<kernel>)")
        }
        let base = String(tree.dropLast("/lib/modules".count))
        return base.isEmpty ? nil : base
    }

    public func arguments(kernel: String, installTree: String) throws -> [String] {
        if let base = try Depmod.baseDirectory(installTree: installTree) { return ["-a", "-b", base, kernel] }
        return ["-a", kernel]
    }

    /// Throws `.depmodFailed` carrying depmod's stderr; the caller reports it but the
    /// transaction stays committed (the modules are in place; rerunning depmod fixes it).
    public func run(kernel: String, installTree: String) throws {
        let args = try arguments(kernel: kernel, installTree: installTree)
        let r: ProcessRunner.Result
        do { r = try runner.run(executable, args) } catch let e as ToolError {
            throw ToolError.depmodFailed(kernel: kernel, status: 127, stderr: e.description)
        }
        guard r.status == 0 else { throw ToolError.depmodFailed(kernel: kernel, status: r.status, stderr: r.stderr) }
    }
}
