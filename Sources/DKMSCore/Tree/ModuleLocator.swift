import Glibc
import SafeFS

/// Finds module files by name anywhere under a kernel's module directory.
public enum ModuleLocator {
    public static func find(in root: String, name: String) -> [String] {
        var found: [String] = []
        var stack = [root]
        while let dir = stack.popLast() {
            for entry in FS.list(dir) {
                let p = "\(dir)/\(entry)"
                guard let st = FS.lstatInfo(p) else { continue }
                if (st.st_mode & S_IFMT) == S_IFDIR { if entry != "build" && entry != "source" { stack.append(p) } }
                else if ModuleFileName.isModule(entry) && ModuleFileName.stem(entry) == name { found.append(p) }
            }
        }
        return found.sorted()
    }
}
