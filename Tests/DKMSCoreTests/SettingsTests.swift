import XCTest
import Glibc
@testable import DKMSCore
import TestSupport

/// The settings sheet: which source wins for each setting, in which order
/// framework.conf's drop-ins are read, and how their values are unquoted.
final class SettingsTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = makeTempDir("dkms-settings-test")
        try Files.makeDirectories(dir + "/framework.conf.d")
    }

    override func tearDown() { _ = try? Files.removeTree(dir) }

    private func write(_ name: String, _ text: String) throws { try Staging.writeFile(dir + "/" + name, Array(text.utf8)) }

    private func parse(_ s: String) throws -> Invocation {
        try Invocation.parse(s.split(separator: " ").map(String.init), isSourceDir: { _ in false }, isFile: { _ in false })
    }

    /// Reads the files as a run does, from $DKMS_CONFIG_DIR.
    private func load(_ args: String = "status", environment: [String: String] = [:]) throws -> Settings {
        Settings.load(invocation: try parse(args), environment: environment.merging(["DKMS_CONFIG_DIR": dir]) { a, _ in a })
    }

    private func settings(_ conf: String, _ args: String = "status", environment: [String: String] = [:], cpus: Int = 6) throws -> Settings {
        var f = FrameworkConfig()
        f.parse(conf)
        return Settings(framework: f, invocation: try parse(args), environment: environment, configDir: "/etc/dkms", cpus: cpus)
    }

    func testDefaults() throws {
        let s = try settings("")
        XCTAssertEqual([s.dkmsTree, s.sourceTree, s.installTree], ["/var/lib/dkms", "/usr/src", "/lib/modules"])
        XCTAssertEqual(s.jobs, 6)
        XCTAssertTrue(s.useCache)
        XCTAssertEqual(s.cacheDir(treeRoot: "/srv/tree"), "/srv/tree/.cache")
        XCTAssertEqual(s.cacheMaxSize, "2G")
        XCTAssertTrue(s.signModules)
        XCTAssertNil(s.mokSigningKey); XCTAssertNil(s.mokCertificate); XCTAssertNil(s.signFile)
        XCTAssertNil(s.compressModule); XCTAssertNil(s.postTransaction)
        XCTAssertNil(s.sandboxOffBy)
        XCTAssertEqual([s.sandboxProfile, s.sandboxConfProfile], ["kbuild", "conf-eval"])
        XCTAssertNil(s.sandboxProfilesDir)
        XCTAssertEqual(try settings("", cpus: 0).jobs, 1, "a failed CPU count still builds")
    }

    func testCommandLineOverFrameworkConf() throws {
        let conf = "dkms_tree=/conf/tree\nsource_tree=/conf/src\ninstall_tree=/conf/lib\nsandbox_profile=conf-profile\n"
        let fromConf = try settings(conf)
        XCTAssertEqual([fromConf.dkmsTree, fromConf.sourceTree, fromConf.installTree], ["/conf/tree", "/conf/src", "/conf/lib"])
        XCTAssertEqual(fromConf.sandboxProfile, "conf-profile")
        let fromArgs = try settings(conf, "status --dkmstree /cli/tree/ --sourcetree /cli/src --installtree=/cli/lib --sandbox-profile cli-profile")
        XCTAssertEqual([fromArgs.dkmsTree, fromArgs.sourceTree, fromArgs.installTree], ["/cli/tree", "/cli/src", "/cli/lib"])
        XCTAssertEqual(fromArgs.sandboxProfile, "cli-profile")
    }

    /// -j, then framework.conf, then $parallel_jobs, then the CPUs.
    func testJobsPrecedence() throws {
        let env = ["parallel_jobs": "5"]
        XCTAssertEqual(try settings("parallel_jobs=4", "status -j 3", environment: env).jobs, 3)
        XCTAssertEqual(try settings("parallel_jobs=4", environment: env).jobs, 4)
        XCTAssertEqual(try settings("", environment: env).jobs, 5)
        XCTAssertEqual(try settings("parallel_jobs=many", environment: env).jobs, 5, "a value that is no number is not set")
        XCTAssertEqual(try settings("").jobs, 6)
        XCTAssertEqual(try settings("", "status -j 0").jobs, 0, "-j 0 is make's unlimited -j")
    }

    func testSwitches() throws {
        XCTAssertFalse(try settings("cache=no").useCache)
        XCTAssertFalse(try settings("cache=yes", "status --no-cache").useCache)
        XCTAssertTrue(try settings("cache=yes").useCache)
        XCTAssertEqual(try settings("sandbox=no").sandboxOffBy, "sandbox=no in framework.conf")
        XCTAssertEqual(try settings("sandbox=no", "status --no-sandbox").sandboxOffBy, "--no-sandbox")
        XCTAssertNil(try settings("sandbox=yes").sandboxOffBy)
        XCTAssertFalse(try settings("try_sign_modules=false").signModules)
        XCTAssertFalse(try settings("sign_modules=no").signModules)
        XCTAssertTrue(try settings("try_sign_modules=true\nsign_modules=yes").signModules)
    }

    /// framework.conf first, then framework.conf.d/*.conf in byte order (as
    /// a C-locale glob), each assignment overriding earlier ones and seeing
    /// the values assigned before it.
    func testDropInOrder() throws {
        try write("framework.conf", "dkms_tree=/from/main\nsign_file=/main/sign\n")
        try write("framework.conf.d/10-first.conf", "source_tree=$dkms_tree/src\ndkms_tree=/from/first\n")
        try write("framework.conf.d/20-second.conf", "dkms_tree=/from/second/\n")
        // 'Z' sorts before 'a' by bytes: a.conf is read last and wins.
        try write("framework.conf.d/a.conf", "install_tree=/from/a\n")
        try write("framework.conf.d/Z.conf", "install_tree=/from/Z\n")
        try write("framework.conf.d/zz.txt", "dkms_tree=/not/a/drop-in\n")
        try write("framework.conf.d/.hidden.conf", "dkms_tree=/hidden\n")
        let s = try load()
        XCTAssertEqual(s.configDir, dir)
        XCTAssertEqual(s.dkmsTree, "/from/second")
        XCTAssertEqual(s.sourceTree, "/from/main/src")
        XCTAssertEqual(s.installTree, "/from/a")
        XCTAssertEqual(s.signFile, "/main/sign", "a drop-in that does not set a key leaves it")
        XCTAssertEqual(try load("status --dkmstree /cli").dkmsTree, "/cli", "the command line still wins over every drop-in")
    }

    func testQuotingAsTheParserDoesIt() throws {
        try write("framework.conf", """
        mok_signing_key="/keys/$kernelver/mok.key"   # the kernel is substituted later
        mok_certificate='/keys/$kernelver/mok.pub'
        sign_file=/opt/sign\\ file
        export cache_dir=/srv/cache
        cache_max_size=""
        compress_module=ZSTD
        post_transaction="update-initramfs -u -k $kernelver"
        sandbox_profiles_dir=$HOME/profiles
        """)
        let s = try load(environment: ["HOME": "/root"])
        XCTAssertEqual(s.mokSigningKey, "/keys/$kernelver/mok.key")
        XCTAssertEqual(s.mokCertificate, "/keys/$kernelver/mok.pub")
        XCTAssertEqual(s.signFile, "/opt/sign file")
        XCTAssertEqual(s.cacheDir(treeRoot: "/t"), "/srv/cache")
        XCTAssertEqual(s.cacheMaxSize, "2G", "an empty value is no value")
        XCTAssertEqual(s.compressModule, .zstd)
        XCTAssertEqual(s.postTransaction, "update-initramfs -u -k $kernelver")
        XCTAssertEqual(s.sandboxProfilesDir, "/profiles", "only earlier assignments expand, never the environment")
        XCTAssertNil(try settings("compress_module=bogus").compressModule)
        XCTAssertNil(try settings("compress_module=").compressModule, "empty: compress as the kernel does")
    }

    func testConfigDirDefault() throws {
        XCTAssertEqual(Settings.load(invocation: try parse("status"), environment: [:]).configDir, "/etc/dkms")
    }
}
