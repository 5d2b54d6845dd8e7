import ModuleTools
import Foundation

/// The installer-relevant settings of dkms's `framework.conf` (and `framework.conf.d/*.conf`).
///
/// dkms sources these files with bash; we only read plain `name=value` assignments
/// (quotes stripped, no expansion), which is what the shipped files contain. Later
/// files override earlier ones, as with sourcing.
public struct FrameworkConf: Equatable, Sendable {
    public var signFile: String?
    public var mokSigningKey: String?
    public var mokCertificate: String?
    /// Our extension (dkms 3.0 has no such knob): `compress_module=xz|zstd|gzip|none`
    /// overrides the kernel's .config choice.
    public var compression: ModuleCompression?

    public init(signFile: String? = nil, mokSigningKey: String? = nil, mokCertificate: String? = nil,
                compression: ModuleCompression? = nil) {
        self.signFile = signFile
        self.mokSigningKey = mokSigningKey
        self.mokCertificate = mokCertificate
        self.compression = compression
    }

    public mutating func apply(text: String) {
        for raw in text.split(separator: "\n") {
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)) }
            guard !line.hasPrefix("#"), let eq = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<eq])
            var value = String(line[line.index(after: eq)...])
            if let hash = value.range(of: " #") { value = String(value[..<hash.lowerBound]) }
            value = value.trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let f = value.first, f == "\"" || f == "'", value.last == f {
                value = String(value.dropFirst().dropLast())
            }
            switch key {
            case "sign_file": signFile = value
            case "mok_signing_key": mokSigningKey = value
            case "mok_certificate": mokCertificate = value
            case "compress_module": compression = ModuleCompression(name: value)
            default: break
            }
        }
    }

    /// Reads `<dir>/framework.conf` then `<dir>/framework.conf.d/*.conf` in name order.
    /// Missing files are fine (all settings optional).
    public static func load(directory: String = "/etc/dkms") -> FrameworkConf {
        var conf = FrameworkConf()
        var files = [FS.join(directory, "framework.conf")]
        let d = FS.join(directory, "framework.conf.d")
        files += FS.listDirectory(d).filter { $0.hasSuffix(".conf") }.map { FS.join(d, $0) }
        for f in files {
            if let bytes = try? FS.readFile(f) { conf.apply(text: String(decoding: bytes, as: UTF8.self)) }
        }
        return conf
    }
}
