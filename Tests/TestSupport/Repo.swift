import Foundation

/// The checkout the tests run from, and the executables built beside them.
public enum Repo {
    /// Tests/TestSupport/Repo.swift, three levels down.
    public static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// An executable of this package (`dkms`, `installer-crash-helper`, ...) from the
    /// build the tests belong to: beside the test bundle, else the debug build.
    public static func product(_ name: String) -> String {
        let bundle = Bundle.main.bundleURL
        let argv0 = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [bundle.appendingPathComponent(name).path,
                          bundle.deletingLastPathComponent().appendingPathComponent(name).path,
                          argv0.appendingPathComponent(name).path,
                          root + "/.build/debug/" + name]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates.last!
    }
}
