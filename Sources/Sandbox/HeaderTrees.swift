import Foundation

/// The trees a kernel's headers are made of. An out-of-tree build names one directory (the
/// objtree, `/lib/modules/<k>/build`), whose Makefile may pull in a separate source tree:
/// Debian and Ubuntu split the headers into a flavour's objtree and a common srctree
/// (`include /usr/src/linux-headers-<k>-common/Makefile`), and kbuild's own `O=` builds leave a
/// `source` link. Both must be shown in the sandbox, where /usr/src is otherwise masked.
/// Headers are installed by the distribution (root-owned): this reads their layout, never a
/// module's files.
enum HeaderTrees {
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
        let named = URL(fileURLWithPath: dir)
        if named.lastPathComponent == "build" { add(named.deletingLastPathComponent().appendingPathComponent("source").path) }
        for included in makefileIncludes(objtree + "/Makefile") {
            let path = included.hasPrefix("/") ? included : objtree + "/" + included
            add(URL(fileURLWithPath: path).deletingLastPathComponent().path)
        }
        return found
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
