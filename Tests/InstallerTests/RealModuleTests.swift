import Foundation
import XCTest
@testable import Installer
@testable import ModuleTools
#if canImport(Glibc)
import Glibc
#endif

/// Compression, signing and depmod against a real hello.ko built from the Debian
/// 6.1 headers, checked with the real kmod tools.
final class RealModuleTests: XCTestCase {
    typealias T = TestSupport
    var root = ""
    var hello = ""

    override func setUpWithError() throws {
        guard let h = T.helloModule() else { throw XCTSkip("cannot build hello.ko against /lib/modules/\(T.kernel)/build") }
        hello = h
        root = T.makeTempDir("real")
    }

    override func tearDown() { T.removeTree(root) }

    override class func tearDown() { TestSupport.discardHelloModule() }

    func trees() -> T.Trees {
        let t = T.makeTrees(root: root, modules: [])
        T.write(t.built("hello", "1.0") + "/hello.ko", T.bytes(hello)!)
        return t
    }

    func installer(_ t: T.Trees, compression: ModuleCompression?, signing: SigningSettings? = nil, depmod: Bool = false) -> Installer {
        var o = InstallerOptions(layout: t.layout)
        o.compression = CompressionPolicy(override: compression)
        o.signing = signing
        o.runDepmod = depmod
        return Installer(options: o)
    }

    func install(_ inst: Installer, _ t: T.Trees) throws -> InstallReport {
        let lock = try TreeLock.acquire(dkmsTree: t.dkms, command: "test install")
        var f = FaultInjector.disabled
        return try inst.install(module: "hello", version: "1.0", kernel: T.kernel, arch: T.arch, lock: lock, faults: &f)
    }

    func modinfo(_ field: String, _ file: String) -> String {
        T.run("modinfo", ["-F", field, file]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: the Debian kernel's own config

    /// Each installed kernel's parsed config agrees with its text: the compression its
    /// CONFIG_MODULE_COMPRESS_* line names (none on Debian's 6.1, xz on its 6.12), signing on
    /// and the hash CONFIG_MODULE_SIG_HASH names.
    func testKernelConfigsCompressionAndSigningMatchTheirText() throws {
        XCTAssertFalse(T.kernels.isEmpty, "no kernel headers installed")
        for k in T.kernels {
            let path = KernelConfig.defaultPath(kernel: k)
            guard FS.exists(path) else { continue }
            let text = String(decoding: try FS.readFile(path), as: UTF8.self)
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

    func testConfigDrivenInstallUsesTheKernelsCompression() throws {
        let t = trees()
        let report = try install(installer(t, compression: nil), t)
        let expected = try KernelConfig.load(path: KernelConfig.defaultPath(kernel: T.kernel)).moduleCompression
        XCTAssertEqual(report.compression, expected)
        XCTAssertEqual(report.installedFiles, [t.kernelDir() + "/updates/dkms/hello.ko" + expected.suffix])
        if expected == .none { XCTAssertEqual(T.bytes(report.installedFiles[0]), T.bytes(hello)) }
    }

    // MARK: compression round trips

    func testXzRoundTripReadableByModinfo() throws {
        let t = trees()
        let report = try install(installer(t, compression: .xz), t)
        let f = t.kernelDir() + "/updates/dkms/hello.ko.xz"
        XCTAssertEqual(report.installedFiles, [f])
        XCTAssertEqual(modinfo("name", f), "hello")
        XCTAssertEqual(modinfo("vermagic", f).split(separator: " ").first.map(String.init), T.kernel)
        // The kernel's decompressor needs CRC32 checks; verify the flags took effect.
        let list = T.run("xz", ["--robot", "--list", f]).stdout
        XCTAssertTrue(list.contains("CRC32"), list)
        XCTAssertFalse(FS.exists(t.kernelDir() + "/updates/dkms/hello.ko"))
        XCTAssertEqual(T.leftovers(t.root), [])
    }

    func testZstdRoundTripReadableByModinfo() throws {
        let t = trees()
        _ = try install(installer(t, compression: .zstd), t)
        let f = t.kernelDir() + "/updates/dkms/hello.ko.zst"
        XCTAssertEqual(modinfo("name", f), "hello")
        XCTAssertEqual(T.run("zstd", ["-t", "-q", f]).status, 0)
    }

    func testGzipRoundTrip() throws {
        let t = trees()
        _ = try install(installer(t, compression: .gzip), t)
        let f = t.kernelDir() + "/updates/dkms/hello.ko.gz"
        // Debian 12's kmod is built without zlib (-ZLIB), so modinfo cannot read .gz;
        // check the bytes instead.
        let out = T.run("sh", ["-c", "gzip -dc '\(f)' | cmp - '\(hello)'"])
        XCTAssertEqual(out.status, 0, out.stderr)
    }

    func testRecompressionReplacesOldVariant() throws {
        let t = trees()
        _ = try install(installer(t, compression: .xz), t)
        _ = try install(installer(t, compression: .zstd), t)
        let dir = t.kernelDir() + "/updates/dkms"
        XCTAssertEqual(FS.listDirectory(dir), ["hello.ko.zst"])
    }

    func testFrameworkConfOverride() {
        var c = FrameworkConf()
        c.apply(text: "# comment\nsign_file=\"/opt/sign-file\"\nmok_signing_key='/k/mok.key'\ncompress_module=zstd # ours\n")
        XCTAssertEqual(c.signFile, "/opt/sign-file")
        XCTAssertEqual(c.mokSigningKey, "/k/mok.key")
        XCTAssertEqual(c.compression, .zstd)
        XCTAssertEqual(CompressionPolicy(override: c.compression).method(for: KernelConfig(text: "CONFIG_MODULE_COMPRESS_XZ=y\n")), .zstd)
        XCTAssertEqual(CompressionPolicy().method(for: KernelConfig(text: "CONFIG_MODULE_COMPRESS_XZ=y\n")), .xz)
        XCTAssertEqual(ModuleCompression.fromModulesDep("kernel/a.ko.zst: kernel/b.ko.zst\n"), .zstd)
    }

    // MARK: signing

    func signing(_ dir: String) -> SigningSettings {
        SigningSettings(key: dir + "/keys/mok.key", certificate: dir + "/keys/mok.pub")
    }

    func testSignWithGeneratedKeyThenCompressKeepsSigner() throws {
        let t = trees()
        let s = signing(root)
        XCTAssertFalse(FS.exists(s.key))
        let report = try install(installer(t, compression: .xz, signing: s), t)
        guard case let .sign(tool, _, _, hash)? = report.signing else { return XCTFail("not signed: \(String(describing: report.signing))") }
        XCTAssertEqual(tool, "/lib/modules/\(T.kernel)/build/scripts/sign-file")
        XCTAssertEqual(hash, "sha256")
        XCTAssertTrue(FS.exists(s.key) && FS.exists(s.certificate), "key and cert generated on first use")
        XCTAssertEqual(FS.mode(s.key).map { $0 & 0o077 }, 0, "private key must not be group/world readable")
        let subject = T.run("openssl", ["x509", "-inform", "DER", "-in", s.certificate, "-noout", "-subject"]).stdout
        XCTAssertTrue(subject.contains("DKMS module signing key"), subject)
        let f = t.kernelDir() + "/updates/dkms/hello.ko.xz"
        XCTAssertEqual(modinfo("signer", f), "DKMS module signing key")
        XCTAssertEqual(modinfo("sig_hashalgo", f), "sha256")
        // The built file in the dkms tree stays unsigned (staging works on a copy).
        XCTAssertEqual(T.bytes(t.built("hello", "1.0") + "/hello.ko"), T.bytes(hello))
        // A second install reuses the key instead of generating a new one.
        let keyBefore = T.bytes(s.key)
        _ = try install(installer(t, compression: ModuleCompression.none, signing: s), t)
        XCTAssertEqual(T.bytes(s.key), keyBefore)
        XCTAssertEqual(modinfo("signer", t.kernelDir() + "/updates/dkms/hello.ko"), "DKMS module signing key")
        XCTAssertEqual(FS.listDirectory(t.dkms + "/.staging"), [])
    }

    func testMissingSignFileIsAWarningNotASilentSkip() throws {
        let t = trees()
        var s = signing(root)
        s.signFile = root + "/no/such/sign-file"
        let report = try install(installer(t, compression: ModuleCompression.none, signing: s), t)
        XCTAssertTrue(report.warnings.contains { $0.contains(root + "/no/such/sign-file") && $0.contains("NOT be signed") }, "\(report.warnings)")
        XCTAssertEqual(modinfo("signer", t.kernelDir() + "/updates/dkms/hello.ko"), "")
    }

    func testKernelWithoutModuleSigIsNotSigned() throws {
        let signer = Signer(settings: signing(root))
        let d = try signer.prepare(kernel: "x", config: KernelConfig(text: "# CONFIG_MODULE_SIG is not set\n"))
        guard case let .skip(_, isWarning) = d else { return XCTFail("\(d)") }
        XCTAssertFalse(isWarning)
        XCTAssertFalse(FS.exists(signing(root).key), "no key generated when nothing will be signed")
        XCTAssertEqual(KernelConfig(text: "CONFIG_MODULE_SIG=y\n").moduleSignatureHash, "sha512", "dkms default")
    }

    // MARK: depmod

    func testDepmodAgainstTempBaseListsInstalledFile() throws {
        let t = trees()
        let report = try install(installer(t, compression: .xz, depmod: true), t)
        XCTAssertEqual(report.depmodErrors, [])
        let dep = String(decoding: T.bytes(t.kernelDir() + "/modules.dep") ?? [], as: UTF8.self)
        XCTAssertTrue(dep.contains("updates/dkms/hello.ko.xz:"), dep)
        XCTAssertEqual(try Depmod().arguments(kernel: T.kernel, installTree: t.install), ["-a", "-b", t.base, T.kernel])
        // Uninstall runs depmod too: the entry disappears.
        let lock = try TreeLock.acquire(dkmsTree: t.dkms, command: "test")
        var f = FaultInjector.disabled
        let u = try installer(t, compression: .xz, depmod: true).uninstall(module: "hello", version: "1.0", kernel: T.kernel, arch: T.arch, lock: lock, faults: &f)
        XCTAssertEqual(u.depmodErrors, [])
        let dep2 = String(decoding: T.bytes(t.kernelDir() + "/modules.dep") ?? [], as: UTF8.self)
        XCTAssertFalse(dep2.contains("hello"), dep2)
    }

    func testDepmodFailureIsReportedButInstallStaysCommitted() throws {
        let t = trees()
        let script = root + "/fake-depmod"
        T.write(script, Array("#!/bin/sh\necho 'depmod: ERROR: simulated failure' >&2\nexit 1\n".utf8), mode: 0o755)
        var inst = installer(t, compression: ModuleCompression.none, depmod: true)
        inst.options.depmod = Depmod(executable: script)
        let report = try install(inst, t)
        XCTAssertEqual(report.depmodErrors.count, 1)
        let msg = report.depmodErrors.first.map { "\($0)" } ?? ""
        print("[depmod-failure] \(msg)")
        XCTAssertTrue(msg.contains("simulated failure") && msg.contains(T.kernel), msg)
        XCTAssertEqual(t.layout.installedVersion("hello", T.kernel, T.arch), "1.0")
        XCTAssertTrue(FS.exists(t.kernelDir() + "/updates/dkms/hello.ko"))
        XCTAssertEqual(Journal.pending(dkmsTree: t.dkms), [])
    }

    func testDepmodBaseDirectoryRules() throws {
        XCTAssertNil(try Depmod.baseDirectory(installTree: "/lib/modules"))
        XCTAssertNil(try Depmod.baseDirectory(installTree: "/lib/modules/"))
        XCTAssertEqual(try Depmod.baseDirectory(installTree: "/tmp/x/lib/modules"), "/tmp/x")
        XCTAssertThrowsError(try Depmod.baseDirectory(installTree: "/tmp/x/modules"))
    }
}
