import SafeFS

extension Engine {
    public func status() { out.say(statusMessages()) }

    /// `dkms status`'s lines (or its JSON), computed from the tree alone.
    public func statusMessages() -> [Message] {
        var said: [Message] = []
        let inv = context.invocation
        let report = StatusReport(tree: tree, defaultDestLocation: context.destOverride ?? "/updates/dkms")
        var kernelFilters: [(String?, String?)] = inv.kernels.isEmpty ? [(nil, inv.arches.first)] : []
        for (i, k) in inv.kernels.enumerated() {
            kernelFilters.append((k, i < inv.arches.count ? inv.arches[i] : (inv.arches.count == 1 ? inv.arches[0] : nil)))
        }
        if inv.json {
            var all: [StatusReport.Entry] = []
            for (k, a) in kernelFilters {
                for m in (inv.module.map { [$0] } ?? GlobOrder.sorted(tree.modules())) {
                    for v in (inv.moduleVersion.map { [$0] } ?? GlobOrder.sorted(FS.list(tree.moduleDir(m)))) {
                        if tree.isBroken(ModuleVersion(m, v)) { all.append(.init(module: m, version: v, kernel: nil, arch: nil, state: "broken", notes: [])); continue }
                        all += report.entries(module: m, version: v, kernel: k, arch: a)
                    }
                }
            }
            return [.line(StatusJSON(report: report).render(all))]
        }
        for (k, a) in kernelFilters {
            for m in (inv.module.map { [$0] } ?? GlobOrder.sorted(tree.modules())) {
                for v in (inv.moduleVersion.map { [$0] } ?? GlobOrder.sorted(FS.list(tree.moduleDir(m)))) {
                    if tree.isBroken(ModuleVersion(m, v)) {
                        let (m, v) = (Printable.visible(m), Printable.visible(v))
                        said += [.line("\(m)/\(v): broken"), .errorLine(""),
                                 .error(["\(m)/\(v): Missing the module source directory or the symbolic link pointing to it.",
                                         "Manual intervention is required!"])]
                        continue
                    }
                    said += report.entries(module: m, version: v, kernel: k, arch: a).map { .line($0.line) }
                }
            }
        }
        return said
    }
}
