import XCTest
import Glibc
@testable import DKMSCore
import BuildCache
import SafeFS
import TestSupport

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
        func eval(_ version: String = "6.1.0-0-test") throws -> RawConf {
            let ctx = ConfEvaluator.Context(kernelVersion: version, arch: "x86_64", kernelSourceDir: f.kernelDir,
                                            dkmsTree: "/var/lib/dkms", sourceTree: "/usr/src", installTree: "/lib/modules",
                                            module: "m", moduleVersion: "1")
            return try evaluator.evaluate(confPath: f.dir + "/dkms.conf", overrides: [f.dir + "/override.conf"], context: ctx, cwd: f.dir).raw
        }
        let first = try eval()
        XCTAssertEqual(counter.runs, 1)
        XCTAssertEqual(try eval(), first)
        XCTAssertEqual(counter.runs, 1, "the same pure file with the same variables is replayed")
        XCTAssertEqual(try eval("6.1.0-0-test-cloud").values["MAKE"]?[0], "make KVER=6.1.0-0-test-cloud")
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

/// Which impure files can still be replayed because they only look at the
/// kernel's configuration (`KernelDependentConf`), and which cannot.
final class KernelDependentConfTests: XCTestCase {
    func programs(_ text: String) -> Set<String>? { KernelDependentConf.programs([Array(text.utf8)]) }

    static let v4l2loopback = """
    PACKAGE_NAME="v4l2loopback"
    PACKAGE_VERSION="0.12.7"

    if [ -f $kernel_source_dir/.config ]; then
        . $kernel_source_dir/.config
        if ! { echo "$kernelver"; echo 5.18; } | sort -V -C; then
            # for linux>=5.18, CONFIG_VIDEO_V4L2 has been renamed to CONFIG_VIDEO_DEV
            if [ "${CONFIG_VIDEO_DEV:-n}" = "n" ]; then
                BUILD_EXCLUSIVE_KERNEL="REQUIRES CONFIG_VIDEO_DEV"
            fi
        else
            if [ "${CONFIG_VIDEO_V4L2:-n}" = "n" ]; then
                BUILD_EXCLUSIVE_KERNEL="REQUIRES CONFIG_VIDEO_V4L2"
            fi
        fi
    fi

    # Items below here should not have to change with each driver version
    MAKE[0]="make KERNEL_DIR=${kernel_source_dir} all"
    CLEAN="make clean"

    BUILT_MODULE_NAME[0]="$PACKAGE_NAME"
    DEST_MODULE_LOCATION[0]="/extra"

    AUTOINSTALL="yes"
    """

    static let ddcci = """
    PACKAGE_VERSION="0.4.2"
    PACKAGE_NAME="ddcci"
    CLEAN="make clean"
    BUILT_MODULE_NAME[0]="ddcci"
    BUILT_MODULE_LOCATION[0]="ddcci/"
    DEST_MODULE_LOCATION[0]="/extra"
    MAKE[0]="make KVER=$kernelver -C ${dkms_tree}/${PACKAGE_NAME}/${PACKAGE_VERSION}/build"
    AUTOINSTALL="yes"
    # Don't build module when BACKLIGHT_CLASS_DEVICE is disabled
    if ! grep -q "^CONFIG_BACKLIGHT_CLASS_DEVICE=[ym]$" "$kernel_source_dir/.config" 2>/dev/null ; then
      echo "BACKLIGHT_CLASS_DEVICE disabled in this kernel, not building module." >&2
      BUILD_EXCLUSIVE_ARCH="^do_not_build$"
    fi
    """

    func testTheTwoKernelDependentDebianFilesAreRecognized() {
        XCTAssertEqual(programs(Self.v4l2loopback), ["sort"])
        XCTAssertEqual(programs(Self.ddcci), ["grep"])
        XCTAssertEqual(programs("if [ -e \"$kernel_config\" ] && grep -qE 'CONFIG_X=(y|m)' $kernel_config; then A=1; elif true; then A=2; else :; fi\n"),
                       ["grep"])
        XCTAssertEqual(programs("A=1 # just assignments\nB=\"$A\"\n"), [])
    }

    func testAnythingElseIsNot() {
        let rejected = [
            "id", "A=b grep -q x $kernel_source_dir/.config", "if uname -r; then A=1; fi",
            "grep -q x /etc/passwd", "grep -q x \"$kernel_source_dir/../../etc/shadow\"", "grep -f $kernel_source_dir/p x",
            "grep -q x $kernel_source_dir/*.h", "grep -q x $dkms_tree/f", "sort /etc/passwd", "sort -o $kernel_source_dir/x",
            ". ./other.conf", ". $kernel_source_dir/Makefile", "source /etc/profile", "[ -r $kernel_source_dir/.config ]",
            "[ -f /etc/passwd ]", "test -x $kernel_source_dir/scripts/sign-file", "[ $kernel_source_dir/a -nt $kernel_source_dir/b ]",
            "A=$(id)", "A=`id`", "echo $(id)", "echo `id`", "A=$RANDOM", "echo \"$SECONDS\"", "A=${x:=y}", "A=${x:-$(id)}",
            "echo x > /tmp/f", "echo x >> $kernel_source_dir/.config", "cat < /etc/passwd", "echo x &", "( A=1 )",
            "f() { :; }", "for i in 1 2; do A=$i; done", "while true; do :; done", "case $x in y) ;; esac",
            "echo ~root", "A=~/x", "echo *", "A=1\neval B=2", "exec 3>/tmp/x", "[[ -f x ]]", "echo x |& cat",
            "echo $'\\x41'", "A=$1", "cat <<EOF\nx\nEOF\n", "read A < $kernel_source_dir/.config", "declare A=1",
            "printf -v A x", "export A=1", "let A=1", "A[x]=1", "time grep -q x $kernel_source_dir/.config",
        ]
        for text in rejected { XCTAssertNil(programs(text), text) }
        // Every file of an evaluation must be recognized.
        XCTAssertNil(KernelDependentConf.programs([Array(Self.ddcci.utf8), Array("id\n".utf8)]))
    }

    /// Through the evaluator: replayed for the same file and kernel tree, evaluated
    /// again when the kernel's digest differs or cannot be had, and never when the
    /// kernel's .config is not plain assignments.
    func testReplayIsKeyedByTheKernelTree() throws {
        let f = try ConfFixture(Self.ddcci, kernelConfig: "CONFIG_I2C=y\nCONFIG_BACKLIGHT_CLASS_DEVICE=m\n")
        defer { f.remove() }
        let kernel = f.kernelDir
        final class State { var runs = 0; var tree: Digest? = SHA256.hash(bytes: [1]) }
        let state = State()
        let runner: ConfEvaluator.ConfRunner = { argv, env, cwd in state.runs += 1; return ConfEvaluator.hostRunner(argv, env, cwd) }
        let memo = ConfMemo(directory: f.dir + "/memo", runner: "test") { _ in state.tree }
        let ev = ConfEvaluator(runner: runner, memo: memo)
        let ctx = ConfEvaluator.Context(kernelVersion: "6.1.0-0-test", arch: "x86_64", kernelSourceDir: kernel,
                                        dkmsTree: "/var/lib/dkms", sourceTree: "/usr/src", installTree: "/lib/modules",
                                        module: "ddcci", moduleVersion: "0.4.2")
        func eval() throws -> ConfEvaluator.Evaluated { try ev.evaluate(confPath: f.dir + "/dkms.conf", context: ctx, cwd: f.dir) }
        let first = try eval()
        XCTAssertEqual(try eval(), first)
        XCTAssertEqual(state.runs, 1, "the same file and kernel tree: replayed")
        XCTAssertNil(first.raw.values["BUILD_EXCLUSIVE_ARCH"])
        // Another kernel tree (by content): evaluated, with that tree's answer.
        try "CONFIG_I2C=y\n".write(toFile: kernel + "/.config", atomically: true, encoding: .utf8)
        state.tree = SHA256.hash(bytes: [2])
        let second = try eval()
        XCTAssertEqual(state.runs, 2)
        XCTAssertEqual(second.raw.values["BUILD_EXCLUSIVE_ARCH"]?[0], "^do_not_build$")
        XCTAssertTrue(second.diagnostics.contains("BACKLIGHT_CLASS_DEVICE disabled"), second.diagnostics)
        XCTAssertEqual(try eval(), second, "its replay carries the diagnostics too")
        XCTAssertEqual(state.runs, 2)
        // No digest to be had (no headers, or not computed in this run): evaluated every time.
        state.tree = nil
        _ = try eval(); _ = try eval()
        XCTAssertEqual(state.runs, 4)
        // A .config that is more than assignments is code: never replayed.
        state.tree = SHA256.hash(bytes: [3])
        try "CONFIG_I2C=y\nCONFIG_X=$RANDOM\n".write(toFile: kernel + "/.config", atomically: true, encoding: .utf8)
        _ = try eval(); _ = try eval()
        XCTAssertEqual(state.runs, 6)
    }
}

extension KernelDependentConfTests {
    func testKernelConfigsAreTheAssignmentsKconfigWrites() throws {
        for k in Kernels.all {
            guard let c = FS.readFile("/lib/modules/\(k)/build/.config") else { continue }
            XCTAssertTrue(KernelDependentConf.isPlainKernelConfig(c), k)
        }
        let plain = "#\n# comment\n#\nCONFIG_A=y\nCONFIG_B=m\n# CONFIG_C is not set\n\nCONFIG_D=\"str (x) \\\"q\\\" \\\\ ;|&\"\nCONFIG_E=0x1f\nCONFIG_F=-1\n"
        XCTAssertTrue(KernelDependentConf.isPlainKernelConfig(Array(plain.utf8)))
        for bad in ["CONFIG_A=$(id)\n", "CONFIG_A=\"$HOME\"\n", "CONFIG_A=`id`\n", "CONFIG_A=y;id\n", "id\n", "CONFIG_A=y id\n",
                    "CONFIG_A=\"unterminated\n", "CONFIG_A=\"\\n\"\n", "A=y\n", "CONFIG_=y\n", "CONFIG_A=~root\n", "CONFIG_A=y\r\n"] {
            XCTAssertFalse(KernelDependentConf.isPlainKernelConfig(Array(bad.utf8)), bad)
        }
    }
}
