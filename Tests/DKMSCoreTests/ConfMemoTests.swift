import XCTest
import Glibc
@testable import DKMSCore

/// Which dkms.conf files count as pure (their evaluation can be replayed),
/// and that replaying never stands in for a file that is not, or that changed.
final class ConfMemoTests: XCTestCase {
    let known: Set<String> = ["kernelver", "arch", "kernel_source_dir", "dkms_tree", "source_tree", "install_tree",
                              "module", "module_version", "PATH", "LC_ALL", "HOME", "kernel_config"]

    func pure(_ text: String) -> Bool { PureConf.isPure([Array(text.utf8)], known: known) }

    func testTheFourPureDebianFormsArePure() {
        XCTAssertTrue(pure("""
        PACKAGE_NAME="acpi-call"
        PACKAGE_VERSION="1.2.2"
        MAKE[0]="make -C ${kernel_source_dir} M=${dkms_tree}/${PACKAGE_NAME}/${PACKAGE_VERSION}/build"
        BUILT_MODULE_NAME[0]="acpi_call"
        DEST_MODULE_LOCATION[0]="/extra"
        AUTOINSTALL="yes"

        # Don't build module when ACPI is disabled
        BUILD_EXCLUSIVE_CONFIG="CONFIG_ACPI"

        """))
        // jool: one value over three lines, continued inside double quotes.
        XCTAssertTrue(pure("PACKAGE_NAME=\"j\"\nPACKAGE_VERSION=1\nMAKE[0]=\"make -C ${kernel_source_dir} M=x modules \\\n      && make -C ${kernel_source_dir} M=y\"\n"))
        XCTAssertTrue(pure("MAKE=\"make all KERNEL_TREE=$kernel_source_dir V=1\"\nBUILD_EXCLUSIVE_KERNEL_MIN=\"3.9\"\nA+=b # trailing comment\nB='lit $(x)'\n"))
        XCTAssertTrue(PureConf.isPure([Array("A=1\r\nB=\"$A\"\r\n".utf8)], known: known), "CRLF is stripped before evaluation")
    }

    func testAnythingThatRunsOrReadsOrVariesIsNot() {
        let impure = [
            "A=b cmd",                                   // runs cmd with A in its environment
            "A=$(id)", "A=\"$(id)\"", "A=`id`", "A=\"`id`\"", "A=$((1+2))",
            "A=\"${kernelver:-x}\"", "A=\"${kernelver%%-*}\"", "A=${#kernelver}", "A=${!x}",
            "A=$RANDOM", "A=\"$SECONDS\"", "SECONDS=1", "A=$BASHPID", "BASH_ENV=/x", "IFS=:", "__dkms_out=/x",
            "A=\"$undefined\"",                          // not assigned before: could be anything the shell has
            "A=~root", "A=x;B=y", "A=x && id", "A=(x y)", "export A=b", "if true; then A=b; fi",
            ". ./other.conf", "source other.conf", "A=b\nid", "A=\"unterminated", "A[x]=1", "A = b",
            "A=$1", "A=$'\\x41'", "A=b | cat", "A=b > /tmp/x", "f() { :; }",
        ]
        for text in impure { XCTAssertFalse(pure(text), text) }
        // The real impure Debian files: they grep and source the kernel's .config.
        XCTAssertFalse(pure("if ! grep -q \"^CONFIG_I2C=[ym]$\" \"$kernel_source_dir/.config\" 2>/dev/null ; then\n  BUILD_EXCLUSIVE_ARCH=\"^do_not_build$\"\nfi\n"))
        XCTAssertFalse(pure("if [ -f $kernel_source_dir/.config ]; then\n    . $kernel_source_dir/.config\nfi\n"))
        // Every file of an evaluation must be pure, and assignments carry over in order.
        XCTAssertTrue(PureConf.isPure([Array("A=1\n".utf8), Array("B=$A\n".utf8)], known: known))
        XCTAssertFalse(PureConf.isPure([Array("A=1\n".utf8), Array("B=$(A)\n".utf8)], known: known))
        XCTAssertFalse(PureConf.isPure([Array("B=$A\n".utf8), Array("A=1\n".utf8)], known: known))
    }

    /// Through the evaluator with a counting runner around real bash.
    func testReplayOnlyForUnchangedPureFiles() throws {
        let f = try ConfFixture("PACKAGE_NAME=hello\nPACKAGE_VERSION=1\nMAKE[0]=\"make KVER=$kernelver\"\n")
        defer { f.remove() }
        final class Counter { var runs = 0 }
        let counter = Counter()
        let runner: ConfEvaluator.ConfRunner = { argv, env, cwd in counter.runs += 1; return ConfEvaluator.hostRunner(argv, env, cwd) }
        let memo = ConfMemo(directory: f.dir + "/memo", runner: "test")
        let evaluator = ConfEvaluator(runner: runner, memo: memo)
        func eval(_ version: String = "6.1.0-56-amd64") throws -> RawConf {
            let ctx = ConfEvaluator.Context(kernelVersion: version, arch: "x86_64", kernelSourceDir: f.kernelDir,
                                            dkmsTree: "/var/lib/dkms", sourceTree: "/usr/src", installTree: "/lib/modules",
                                            module: "m", moduleVersion: "1")
            return try evaluator.evaluate(confPath: f.dir + "/dkms.conf", overrides: [f.dir + "/override.conf"], context: ctx, cwd: f.dir).raw
        }
        let first = try eval()
        XCTAssertEqual(counter.runs, 1)
        XCTAssertEqual(try eval(), first)
        XCTAssertEqual(counter.runs, 1, "the same pure file with the same variables is replayed")
        XCTAssertEqual(try eval("6.1.0-56-cloud-amd64").values["MAKE"]?[0], "make KVER=6.1.0-56-cloud-amd64")
        XCTAssertEqual(counter.runs, 2, "another kernel is another evaluation")

        // An override file appearing, the file changing: evaluated again.
        try Staging.writeFile(f.dir + "/override.conf", Array("AUTOINSTALL=yes\n".utf8))
        XCTAssertEqual(try eval().values["AUTOINSTALL"]?[0], "yes")
        XCTAssertEqual(counter.runs, 3)
        try Staging.writeFile(f.dir + "/dkms.conf.new", Array("PACKAGE_NAME=hello\nPACKAGE_VERSION=2\n".utf8))
        rename(f.dir + "/dkms.conf.new", f.dir + "/dkms.conf")
        XCTAssertEqual(try eval().values["PACKAGE_VERSION"]?[0], "2")
        XCTAssertEqual(counter.runs, 4)

        // A damaged entry is a miss, not an error and not garbage.
        for name in FS.list(f.dir + "/memo") {
            var bytes = FS.readFile(f.dir + "/memo/" + name)!
            bytes[bytes.count / 2] ^= 0xff
            unlink(f.dir + "/memo/" + name)
            try Staging.writeFile(f.dir + "/memo/" + name, bytes)
        }
        XCTAssertEqual(try eval().values["PACKAGE_VERSION"]?[0], "2")
        XCTAssertEqual(counter.runs, 5)

        // Impure: evaluated every time.
        try Staging.writeFile(f.dir + "/dkms.conf.new", Array("PACKAGE_NAME=hello\nPACKAGE_VERSION=$(echo 3)\n".utf8))
        rename(f.dir + "/dkms.conf.new", f.dir + "/dkms.conf")
        XCTAssertEqual(try eval().values["PACKAGE_VERSION"]?[0], "3")
        XCTAssertEqual(try eval().values["PACKAGE_VERSION"]?[0], "3")
        XCTAssertEqual(counter.runs, 7)
    }
}
