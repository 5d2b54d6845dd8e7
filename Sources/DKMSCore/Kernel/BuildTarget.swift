/// A kernel release and an architecture: what a build is for, as the tree names it
/// (`<m>/<v>/<kernel>/<arch>`, `kernel-<kernel>-<arch>`). `KernelTarget` adds where that
/// kernel's headers are; the tree's paths and states need only this.
public struct BuildTarget: Hashable, Sendable {
    public let kernel: String
    public let arch: String

    public init(_ kernel: String, _ arch: String) {
        self.kernel = kernel; self.arch = arch
    }
}
