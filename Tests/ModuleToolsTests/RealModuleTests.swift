import Foundation
import XCTest
@testable import ModuleTools
import SafeFS
import TestSupport

/// Compression, signing and depmod against a real hello.ko built from the Debian
/// headers, checked with the real kmod tools. Each test works on its own copy.
final class RealModuleTests: XCTestCase {
    typealias T = ToolFixture
    var root = ""
    var hello = ""

    override func setUpWithError() throws {
        guard let h = T.helloModule() else { throw XCTSkip("cannot build hello.ko against /lib/modules/\(T.kernel)/build") }
        hello = h
        root = T.makeTempDir("real")
    }

    override func tearDown() { T.removeTree(root) }

    override class func tearDown() { ToolFixture.discardHelloModule() }

    /// A fresh copy of hello.ko at `dir/hello.ko`.
    func copy(into dir: String) -> String {
        let path = dir + "/hello.ko"
        T.write(path, T.bytes(hello)!)
        return path
    }

    func modinfo(_ field: String, _ file: String) -> String {
        T.run("modinfo", ["-F", field, file]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func listing(_ dir: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() }

    // MARK: the Debian kernel's own config

    /// Each installed kernel's parsed config agrees with its text: the compression its
    /// CONFIG_MODULE_COMPRESS_* line names (none on Debian's 6.1, xz on its 6.12), signing on
    /// and the hash CONFIG_MODULE_SIG_HASH names.
    func testKernelConfigsCompressionAndSigningMatchTheirText() throws {
        XCTAssertFalse(T.kernels.isEmpty, "no kernel headers installed")
        for k in T.kernels {
            let path = KernelConfig.defaultPath(kernel: k)
            guard FS.exists(path, followLinks: false) else { continue }
            let text = String(decoding: try ToolFiles.readFile(path), as: UTF8.self)
            let lines = Set(text.split(separator: "\n").map(String.init))
            let c = try KernelConfig.load(path: path)
            print("[kconfig] \(k): compression=\(c.moduleCompression.rawValue) CONFIG_MODULE_SIG=\(c.values["CONFIG_MODULE_SIG"] ?? "unset") hash=\(c.moduleSignatureHash)")
            let named = ["gzip": ModuleCompression.gzip, "xz": .xz, "zstd": .zstd]
                .first { lines.contains("CONFIG_MODULE_COMPRESS_\($0.key.uppercased())=y") }?.value ?? .none
            XCTAssertEqual(c.moduleCompression, named, k)
            XCTAssertEqual(c.moduleSigning, lines.contains("CONFIG_MODULE_SIG=y"), k)
            if let hash = lines.first(where: { $0.hasPrefix("CONFIG_MODULE_SIG_HASH=") }) {
                XCTAssertEqual(c.moduleSignatureHash, hash.dropFirst("CONFIG_MODULE_SIG_HASH=".count).trimmingCharacters(in: ["\""]), k)
            }
        }
    }

    // MARK: compression round trips

    func testXzRoundTripReadableByModinfo() throws {
        let f = try Compressor().compress(copy(into: root), as: .xz)
        XCTAssertEqual(f, root + "/hello.ko.xz")
        XCTAssertEqual(modinfo("name", f), "hello")
        XCTAssertEqual(modinfo("vermagic", f).split(separator: " ").first.map(String.init), T.kernel)
        // The kernel's decompressor needs CRC32 checks; verify the flags took effect.
        let list = T.run("xz", ["--robot", "--list", f]).stdout
        XCTAssertTrue(list.contains("CRC32"), list)
        XCTAssertEqual(listing(root), ["hello.ko.xz"], "the uncompressed file is replaced, as the kernel's rules do")
    }

    func testZstdRoundTripReadableByModinfo() throws {
        let f = try Compressor().compress(copy(into: root), as: .zstd)
        XCTAssertEqual(f, root + "/hello.ko.zst")
        XCTAssertEqual(modinfo("name", f), "hello")
        XCTAssertEqual(T.run("zstd", ["-t", "-q", f]).status, 0)
    }

    func testGzipRoundTrip() throws {
        let f = try Compressor().compress(copy(into: root), as: .gzip)
        XCTAssertEqual(f, root + "/hello.ko.gz")
        // Debian 12's kmod is built without zlib (-ZLIB), so modinfo cannot read .gz;
        // check the bytes instead.
        let out = T.run("sh", ["-c", "gzip -dc '\(f)' | cmp - '\(hello)'"])
        XCTAssertEqual(out.status, 0, out.stderr)
    }

    /// An override (framework.conf's compress_module) wins over the kernel's .config.
    func testCompressionPolicyOverride() {
        XCTAssertEqual(CompressionPolicy(override: .zstd).method(for: KernelConfig(text: "CONFIG_MODULE_COMPRESS_XZ=y\n")), .zstd)
        XCTAssertEqual(CompressionPolicy().method(for: KernelConfig(text: "CONFIG_MODULE_COMPRESS_XZ=y\n")), .xz)
    }

    // MARK: signing

    func signing(_ dir: String) -> SigningSettings {
        SigningSettings(key: dir + "/keys/mok.key", certificate: dir + "/keys/mok.pub")
    }

    /// The key is generated once (private key 0600, the certificate dkms names), and a module
    /// signed uncompressed keeps its signature when compressed afterwards.
    func testSignWithGeneratedKeyThenCompressKeepsSigner() throws {
        let s = signing(root)
        XCTAssertFalse(FS.exists(s.key, followLinks: false))
        let signer = Signer(settings: s)
        try signer.generateKey()
        XCTAssertTrue(FS.exists(s.key, followLinks: false) && FS.exists(s.certificate, followLinks: false), "key and cert generated")
        var st = stat()
        XCTAssertEqual(stat(s.key, &st), 0)
        XCTAssertEqual(st.st_mode & 0o077, 0, "private key must not be group/world readable")
        let subject = T.run("openssl", ["x509", "-inform", "DER", "-in", s.certificate, "-noout", "-subject"]).stdout
        XCTAssertTrue(subject.contains("DKMS module signing key"), subject)
        let config = try KernelConfig.load(path: KernelConfig.defaultPath(kernel: T.kernel))
        let decision = SigningDecision.sign(tool: SigningSettings.defaultSignFile(kernel: T.kernel), key: s.key,
                                            certificate: s.certificate, hash: config.moduleSignatureHash)
        // Signed uncompressed, then compressed: the signature survives.
        let file = copy(into: root + "/xz")
        try Signer.sign(file, decision: decision)
        let f = try Compressor().compress(file, as: .xz)
        XCTAssertEqual(modinfo("signer", f), "DKMS module signing key")
        XCTAssertEqual(modinfo("sig_hashalgo", f), config.moduleSignatureHash)
        let plain = copy(into: root + "/plain")
        try Signer.sign(plain, decision: decision)
        XCTAssertEqual(modinfo("signer", plain), "DKMS module signing key")
        XCTAssertNotEqual(T.bytes(plain), T.bytes(hello), "signing appends to the copy, never to the source")
        // A compressed module is refused: the kernel checks the signature of the ELF inside.
        XCTAssertThrowsError(try Signer.sign(f, decision: decision))
    }

    /// sign-file's failure carries what it said, on either stream.
    func testSignFileFailureCarriesItsWords() throws {
        let tool = root + "/fake-sign-file"
        T.write(tool, Array("#!/bin/sh\necho 'on stdout'\necho 'At main.c:298: on stderr' >&2\nexit 1\n".utf8), mode: 0o755)
        let file = copy(into: root + "/s")
        XCTAssertThrowsError(try Signer.sign(file, decision: .sign(tool: tool, key: "k", certificate: "c", hash: "sha256"))) { e in
            guard case ToolError.commandFailed(_, let status, let text) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(status, 1)
            XCTAssertEqual(text, "on stdout\nAt main.c:298: on stderr\n")
        }
    }

    /// A precompiled module is read back through the kernel's compressions, bounded.
    func testDecompressedIsTheModuleAndBounded() throws {
        for method in [ModuleCompression.xz, .zstd, .gzip] {
            let f = try Compressor().compress(copy(into: root + "/d-\(method.rawValue)"), as: method)
            XCTAssertEqual(try Compressor().decompressed(f, limit: 64 << 20), T.bytes(hello), "\(method)")
            XCTAssertThrowsError(try Compressor().decompressed(f, limit: 1000), "\(method): more than the limit is refused")
        }
        XCTAssertThrowsError(try Compressor().decompressed(copy(into: root + "/d-none"), limit: 64 << 20))
    }

    // MARK: depmod

    func testDepmodAgainstTempBaseListsInstalledFile() throws {
        let base = root + "/base", tree = base + "/lib/modules"
        let dest = "\(tree)/\(T.kernel)/updates/dkms"
        let f = try Compressor().compress(copy(into: dest), as: .xz)
        XCTAssertEqual(try Depmod().arguments(kernel: T.kernel, installTree: tree), ["-a", "-b", base, T.kernel])
        try Depmod().run(kernel: T.kernel, installTree: tree)
        let dep = String(decoding: T.bytes("\(tree)/\(T.kernel)/modules.dep") ?? [], as: UTF8.self)
        XCTAssertTrue(dep.contains("updates/dkms/hello.ko.xz:"), dep)
        // Run again once the file is gone: the entry disappears.
        try FileManager.default.removeItem(atPath: f)
        try Depmod().run(kernel: T.kernel, installTree: tree)
        let dep2 = String(decoding: T.bytes("\(tree)/\(T.kernel)/modules.dep") ?? [], as: UTF8.self)
        XCTAssertFalse(dep2.contains("hello"), dep2)
    }

    /// The error carries depmod's own words (its stderr) and names the kernel.
    func testDepmodFailureIsReportedInDepmodsWords() throws {
        let script = root + "/fake-depmod"
        T.write(script, Array("#!/bin/sh\necho 'depmod: ERROR: simulated failure' >&2\nexit 1\n".utf8), mode: 0o755)
        XCTAssertThrowsError(try Depmod(executable: script).run(kernel: T.kernel, installTree: root + "/lib/modules")) { e in
            let msg = "\(e)"
            print("[depmod-failure] \(msg)")
            XCTAssertEqual(e as? ToolError, .depmodFailed(kernel: T.kernel, status: 1, stderr: "depmod: ERROR: simulated failure\n"))
            XCTAssertTrue(msg.contains("simulated failure") && msg.contains(T.kernel), msg)
        }
    }

    func testDepmodBaseDirectoryRules() throws {
        XCTAssertNil(try Depmod.baseDirectory(installTree: "/lib/modules"))
        XCTAssertNil(try Depmod.baseDirectory(installTree: "/lib/modules/"))
        XCTAssertEqual(try Depmod.baseDirectory(installTree: "/tmp/x/lib/modules"), "/tmp/x")
        XCTAssertThrowsError(try Depmod.baseDirectory(installTree: "/tmp/x/modules"))
    }
}
