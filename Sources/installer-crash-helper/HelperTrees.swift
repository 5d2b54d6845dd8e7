import Foundation

/// Where things are in the helper's temporary trees: dkms 3.x's layout, reduced
/// to what the plans touch. Modules install to `<kernel>/updates/dkms`.
struct HelperTrees {
    var dkms: String
    var install: String
    var module: String
    var arch: String
    var origLocations: [String: String]

    /// What a built module file may be called; the first is what the kernel loads uncompressed.
    static let suffixes = [".ko", ".ko.xz", ".ko.zst", ".ko.gz"]

    var moduleDirectory: String { "\(dkms)/\(module)" }
    func versionDirectory(_ v: String) -> String { "\(moduleDirectory)/\(v)" }
    func kernelArchDirectory(_ v: String, _ k: String) -> String { "\(versionDirectory(v))/\(k)/\(arch)" }
    func builtDirectory(_ v: String, _ k: String) -> String { kernelArchDirectory(v, k) + "/module" }
    func marker(_ k: String) -> String { "\(moduleDirectory)/kernel-\(k)-\(arch)" }
    func originalDirectory(_ k: String) -> String { "\(moduleDirectory)/original_module/\(k)/\(arch)" }
    func kernelDirectory(_ k: String) -> String { "\(install)/\(k)" }
    func destination(_ k: String) -> String { kernelDirectory(k) + "/updates/dkms" }

    /// The version the marker link names (`<v>/<k>/<arch>`), nil when not installed.
    func installedVersion(_ k: String) -> String? {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: marker(k)) else { return nil }
        return target.split(separator: "/").first.map(String.init)
    }

    /// Module name of a file name ("beta.ko.xz" -> "beta"), nil for other files.
    static func moduleName(_ file: String) -> String? {
        for s in suffixes where file.hasSuffix(s) && file.count > s.count { return String(file.dropLast(s.count)) }
        return nil
    }

    /// The built module files of `v` for `k`, sorted.
    func builtFiles(_ v: String, _ k: String) -> [String] {
        let dir = builtDirectory(v, k)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { HelperTrees.moduleName($0) != nil }.sorted().map { "\(dir)/\($0)" }
    }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }
}

extension HelperTrees {
    static func isFile(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFREG
    }
}
