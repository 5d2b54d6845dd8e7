import Foundation

/// The trees a kernel's headers are made of. An out-of-tree build names one directory (the
/// objtree, `/lib/modules/<k>/build`), whose Makefile may pull in a separate source tree:
/// Debian and Ubuntu split the headers into a flavour's objtree and a common srctree
/// (`include /usr/src/linux-headers-<k>-common/Makefile`), and kbuild's own `O=` builds leave a
/// `source` link. Both must be shown in the sandbox, where /usr/src is otherwise masked.
/// Headers are installed by the distribution (root-owned): this reads their layout, never a
/// module's files.
public enum HeaderTrees {
    /// `dir` resolved, and the source trees it leads to, each resolved, without duplicates.
    static func trees(of dir: String) -> [String] {
        let objtree = URL(fileURLWithPath: dir).resolvingSymlinksInPath().path
        var found = [objtree]
        func add(_ p: String) {
            let real = URL(fileURLWithPath: p).resolvingSymlinksInPath().path
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: real, isDirectory: &isDir), isDir.boolValue, !found.contains(real) {
                found.append(real)
            }
        }
        // kbuild's O= link, and /lib/modules/<k>/source beside /lib/modules/<k>/build.
        add(objtree + "/source")
        for sibling in namedWith(dir).dropFirst() { add(sibling) }
        for included in makefileIncludes(objtree + "/Makefile") {
            let path = included.hasPrefix("/") ? included : objtree + "/" + included
            add(URL(fileURLWithPath: path).deletingLastPathComponent().path)
        }
        return found
    }

    /// Links that show header paths named outside /usr and /lib (an install tree's `<k>/build`,
    /// and the `<k>/source` beside it) inside the sandbox, pointing at the real trees that
    /// `trees(of:)` binds read-only: make and kbuild see the path the command line names, and
    /// a configure that prefers `<k>/source` (zfs's: `${kernel_source_dir/%build/source}`)
    /// finds Debian's -common tree as it does under /lib/modules.
    public static func links(showing headers: [String]) -> [SandboxSpec.Mount] {
        var links: [SandboxSpec.Mount] = []
        for h in headers where !h.hasPrefix("/usr/") && !h.hasPrefix("/lib/") {
            for path in namedWith(h) {
                let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
                var isDir: ObjCBool = false
                guard real != path, FileManager.default.fileExists(atPath: real, isDirectory: &isDir), isDir.boolValue,
                      !links.contains(.symlink(target: path, destination: real)) else { continue }
                links.append(.symlink(target: path, destination: real))
            }
        }
        return links
    }

    /// `dir`, and the `<k>/source` named beside it when `dir` is a `<k>/build`.
    static func namedWith(_ dir: String) -> [String] {
        let named = URL(fileURLWithPath: dir)
        guard named.lastPathComponent == "build" else { return [dir] }
        return [dir, named.deletingLastPathComponent().appendingPathComponent("source").path]
    }

    /// The files an objtree's small Makefile includes (`include PATH/Makefile`), from its first
    /// 4 KiB: Debian's and Ubuntu's are one or two lines; a full kernel Makefile has none such.
    static func makefileIncludes(_ path: String) -> [String] {
        guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        let head = String(decoding: handle.readData(ofLength: 4096), as: UTF8.self)
        return head.split(separator: "\n").compactMap { line in
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count == 2, words[0] == "include", words[1].hasSuffix("/Makefile"), !words[1].contains("$") else { return nil }
            return String(words[1])
        }
    }
}
