import XCTest
import Foundation
import Glibc
import TestSupport

/// Issue #12: nothing a module ships reaches root. Module-supplied names,
/// values, text and files go through the real `dkms` on scratch trees; each
/// attack is tried more than one way, and the trees (and bait outside them)
/// must be unchanged after a refusal.
final class SupervisorHardeningTests: XCTestCase {
    let k = Hostile.kernel
    var trees: TestTrees!
    var outside: String!

    override func setUp() {
        trees = TestTrees()
        // Bait outside every tree: a directory and a file a hostile value or link may aim at.
        outside = trees.base + "/outside"
        _ = sh(["mkdir", "-p", outside + "/dir"])
        FileManager.default.createFile(atPath: outside + "/secret", contents: Data("outside-secret\n".utf8))
        FileManager.default.createFile(atPath: outside + "/dir/keep", contents: Data("keep\n".utf8))
    }

    override func tearDown() { trees.cleanup() }

    /// New trees and bait for the next case of a loop.
    func fresh() { trees.cleanup(); setUp() }

    var watched: [String] { [trees.dkmsTree, trees.sourceTree, trees.root, outside] }

    /// Every path, type, mode, link target and file content under the
    /// trees and the bait, but for dkms's own lock and sandbox work area.
    func digest() -> String {
        let script = """
        { find "$@" \\( -name .dkms.lock -o -name .sandbox \\) -prune -o -printf '%y %m %s %p %l\\n' | sort
          find "$@" \\( -name .dkms.lock -o -name .sandbox \\) -prune -o -type f -print0 | sort -z | xargs -0 -r sha256sum; } | sha256sum
        """
        return sh(["/bin/bash", "-c", script, "_"] + watched).stdout
    }

    /// A module source that needs no kernel build (MAKE copies the prebuilt example).
    func hostileSource(_ name: String, conf: String, files: [String: String] = [:]) -> String {
        let d = trees.base + "/incoming/" + name
        _ = sh(["mkdir", "-p", d + "/prebuilt"])
        _ = sh(["cp", Hostile.prebuiltModule, d + "/prebuilt/"])
        FileManager.default.createFile(atPath: d + "/dkms.conf", contents: Data(conf.utf8))
        for (n, text) in files {
            FileManager.default.createFile(atPath: d + "/" + n, contents: Data(text.utf8), attributes: [.posixPermissions: 0o755])
        }
        return d
    }

    static let module = "BUILT_MODULE_NAME[0]=dkms_hello\nDEST_MODULE_LOCATION[0]=/updates/dkms\nMAKE[0]=\"cp prebuilt/dkms_hello.ko .\"\n"
    static let base = "PACKAGE_NAME=hx\nPACKAGE_VERSION=1.0\n" + module

    /// No raw control (other than newline and tab), C1, bidi or zero-width character reached the terminal.
    func assertTerminalClean(_ r: Run, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        for c in r.all.unicodeScalars {
            let v = c.value
            let bad = (v < 0x20 && v != 0x0a && v != 0x09) || v == 0x7f || (0x80...0x9f).contains(v)
                || (0x200b...0x200f).contains(v) || (0x202a...0x202e).contains(v) || (0x2066...0x2069).contains(v) || v == 0xfeff
            if bad {
                XCTFail("\(label): raw U+\(String(v, radix: 16)) on the terminal: \(r.all.debugDescription)", file: file, line: line)
                return
            }
        }
    }

    // MARK: 1. one validator

    func testHostileNamesAndValuesAreRefusedBeforeAnythingIsWritten() {
        let marker = trees.base + "/EVALUATED"
        // (label, dkms.conf, text the one-line problem must contain)
        let cases: [(String, String, String)] = [
            // Blanks and newlines are word-split as dkms's read-back does ("1.0 module x"), but "\r\n" is one Swift Character:
            // the validator looks at scalars.
            ("version-newline", "PACKAGE_NAME=hx\nPACKAGE_VERSION=$'1.0\\nmodule\\tx'\n" + Self.module, "PACKAGE_VERSION '1.0 module x' contains a space"),
            ("version-crlf", "PACKAGE_NAME=hx\nPACKAGE_VERSION=$'1.0\\r\\nmodule'\n" + Self.module, "PACKAGE_VERSION '1.0\\x0d\\x0amodule' contains a line break"),
            ("version-vertical-tab", "PACKAGE_NAME=hx\nPACKAGE_VERSION=$'1.0\\vx'\n" + Self.module, "PACKAGE_VERSION '1.0\\x0bx' contains a control character"),
            ("name-command-substitution", "PACKAGE_NAME='hx$(touch \(marker))'\nPACKAGE_VERSION=1.0\n" + Self.module, "PACKAGE_NAME 'hx$(touch"),
            ("name-backticks", "PACKAGE_NAME='hx`touch \(marker)`'\nPACKAGE_VERSION=1.0\n" + Self.module, "PACKAGE_NAME 'hx`touch"),
            ("name-bidi", "PACKAGE_NAME=$'hx\\342\\200\\256exe.ko'\nPACKAGE_VERSION=1.0\n" + Self.module, "PACKAGE_NAME 'hx\\u{202e}exe.ko' contains an invisible or bidirectional character (U+202E)"),
            ("version-zero-width", "PACKAGE_NAME=hx\nPACKAGE_VERSION=$'1.0\\342\\200\\213'\n" + Self.module, "contains an invisible or bidirectional character (U+200B)"),
            ("version-escape", "PACKAGE_NAME=hx\nPACKAGE_VERSION=$'1.0\\e[2J'\n" + Self.module, "PACKAGE_VERSION '1.0\\x1b[2J' contains a control character"),
            ("version-c1", "PACKAGE_NAME=hx\nPACKAGE_VERSION=$'1.0\\302\\233'\n" + Self.module, "contains a control character"),
            ("name-space", "PACKAGE_NAME='hx y'\nPACKAGE_VERSION=1.0\n" + Self.module, "contains a space"),
            ("depends-crlf", Self.base + "BUILD_DEPENDS=($'dep\\r\\ndepends')\n", "'BUILD_DEPENDS' entry #0 'dep\\x0d\\x0adepends' contains a line break"),
            ("depends-cr", Self.base + "BUILD_DEPENDS=(ok $'dep\\rfake')\n", "'BUILD_DEPENDS' entry #1 'dep\\x0dfake' contains a line break"),
            ("depends-substitution", Self.base + "BUILD_DEPENDS=('ok' '$(touch \(marker))')\n", "'BUILD_DEPENDS' entry #1 '$(touch"),
            ("depends-dotdot", Self.base + "BUILD_DEPENDS=('../../outside')\n", "'BUILD_DEPENDS' entry #0 '../../outside' contains '..'"),
            ("built-name-semicolon", Self.base + "BUILT_MODULE_NAME[0]='dkms_hello;id'\n", "'BUILT_MODULE_NAME' directive contains ';'"),
            ("dest-name-newline", Self.base + "DEST_MODULE_NAME[0]=$'dkms_hello\\r\\nx'\n", "'DEST_MODULE_NAME' directive contains a line break"),
            ("built-location-escape", Self.base + "BUILT_MODULE_LOCATION[0]=$'sub\\e]0;x\\a/'\n", "'BUILT_MODULE_LOCATION' directive contains a control character"),
            ("dest-location-bidi", Self.base + "DEST_MODULE_LOCATION[0]=$'/updates/\\342\\201\\246x'\n", "'DEST_MODULE_LOCATION' directive contains an invisible"),
            ("dest-location-tab", Self.base + "DEST_MODULE_LOCATION[0]=$'/updates/a\\tb'\n", "'DEST_MODULE_LOCATION' directive contains a space"),
            ("dest-location-ff", Self.base + "DEST_MODULE_LOCATION[0]=$'/updates/a\\fb'\n", "'DEST_MODULE_LOCATION' directive contains a control character"),
            ("patch-substitution", Self.base + "PATCH[0]='$(touch \(marker)).patch'\n", "'PATCH' entry #0 '$(touch"),
            ("patch-newline", Self.base + "PATCH[0]=$'a.patch\\r\\nb.patch'\n", "'PATCH' entry #0 'a.patch\\x0d\\x0ab.patch' contains a line break"),
        ]
        for (label, conf, problem) in cases {
            // Two ways in: `dkms add DIR` (copying it), and a build of a source already in the source tree.
            for way in ["add-dir", "build"] {
                fresh()
                let src = hostileSource("hx-1.0", conf: conf)
                if way == "build" { trees.addSource(src, as: "hx-1.0") }
                let before = digest()
                let r = way == "add-dir" ? trees.dkms("add", src, "-k", k) : trees.dkms("build", "-m", "hx", "-v", "1.0", "-k", k)
                let l = "\(label) via \(way)"
                XCTAssertEqual(r.status, 8, "\(l): \(r.all)")
                XCTAssertTrue(r.stderr.contains(problem), "\(l): expected \(problem.debugDescription) in \(r.stderr.debugDescription)")
                let named = way == "add-dir" ? src + "/dkms.conf" : "/hx/1.0/source/dkms.conf"
                XCTAssertTrue(r.stderr.contains("File: ") && r.stderr.contains(named), "\(l): the error names the file: \(r.stderr)")
                XCTAssertEqual(digest(), before, "\(l): something was written")
                XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "\(l): a name was evaluated")
                XCTAssertEqual(FS_list(trees.dkmsTree).filter { !$0.hasPrefix(".") }, [], "\(l): the dkms tree has \(FS_list(trees.dkmsTree))")
                assertTerminalClean(r, l)
            }
        }
    }

    /// The conf's read-back stream comes out of the sandbox, and the file
    /// can write to its descriptor: a forged stream (negative or huge counts)
    /// is a bad conf file, not a trap of the root process (found by dkms-fuzz).
    func testForgedConfReadBackIsRefused() {
        for forged in [#"PACKAGE_NAME\0-5\0"#, #"PACKAGE_NAME\0-9223372036854775808\0"#, #"PACKAGE_NAME\0999999999\0"#,
                       #"PACKAGE_NAME\0002\0000\0hx\0END\0"#] {
            for way in ["add-dir", "build"] {
                fresh()
                let src = hostileSource("hx-1.0", conf: Self.base + "builtin printf '\(forged)' >&3; builtin exit 0\n")
                if way == "build" { trees.addSource(src, as: "hx-1.0") }
                let before = digest()
                let r = way == "add-dir" ? trees.dkms("add", src, "-k", k) : trees.dkms("build", "hx/1.0", "-k", k)
                XCTAssertEqual(r.status, 8, "\(forged) via \(way): \(r.all)")
                XCTAssertTrue(r.stderr.contains("Bad conf file."), r.all)
                XCTAssertFalse(r.all.contains("Fatal error"), r.all)
                XCTAssertEqual(digest(), before, "\(forged) via \(way)")
            }
        }
    }

    /// Command-line names follow the same rule: not a path, not a control.
    func testCommandLineNamesAreValidated() {
        for (args, problem) in [(["install", "-m", "hx\u{1b}[2J", "-v", "1.0"], "contains a control character"),
                                (["build", "-m", "hx", "-v", "1.0\u{202e}"], "(U+202E)"),
                                (["build", "hx$(id)/1.0"], "contains '$'")] {
            let before = digest()
            let r = trees.dkms(args + ["-k", k])
            XCTAssertNotEqual(r.status, 0, r.all)
            XCTAssertTrue(r.stderr.contains(problem), "\(args): \(r.stderr.debugDescription)")
            XCTAssertEqual(digest(), before)
            assertTerminalClean(r, "\(args)")
        }
    }

    /// Real packages' names and versions are accepted and built.
    func testRealisticNamesAreAccepted() {
        let src = hostileSource("x", conf: "PACKAGE_NAME=hx_a-b.c+d\nPACKAGE_VERSION=1.2.3~rc1+git20240101\n" + Self.module)
        let r = trees.dkms("add", src, "-k", k)
        XCTAssertEqual(r.status, 0, r.all)
        let b = trees.dkms("build", "-m", "hx_a-b.c+d", "-v", "1.2.3~rc1+git20240101", "-k", k)
        XCTAssertEqual(b.status, 0, b.all)
        let s = trees.dkms("status")
        XCTAssertTrue(s.stdout.contains("hx_a-b.c+d/1.2.3~rc1+git20240101, \(k)"), s.all)
    }

    // MARK: 2. the terminal

    func testModuleTextIsEscapedOnTheTerminal() {
        let hostile = #"printf 'x\033[2J\033]0;owned\007y\342\200\256z\302\233w\n' "#
        // dkms.conf diagnostics (stderr of the evaluation), two ways: a syntax error quoting the text, and echo >&2.
        let conf = Self.base + "POST_ADD=post-add.sh\nPRE_INSTALL=pre-install.sh\nPOST_INSTALL=post-install.sh\nPOST_REMOVE=post-remove.sh\n"
            + "\(hostile) >&2\n"
        let script = "#!/bin/sh\n\(hostile)\n\(hostile) >&2\necho MULTI-LINE-KEPT\n"
        let src = hostileSource("hx-1.0", conf: conf, files: ["post-add.sh": script, "pre-install.sh": script,
                                                               "post-install.sh": script, "post-remove.sh": script])
        for (label, args) in [("add", ["add", src]), ("build", ["build", "hx/1.0"]), ("install", ["install", "hx/1.0"]),
                              ("status", ["status"]), ("remove", ["remove", "hx/1.0", "--all"])] {
            let r = trees.dkms(args + (label == "status" || label == "remove" ? [] : ["-k", k]))
            XCTAssertEqual(r.status, 0, "\(label): \(r.all)")
            assertTerminalClean(r, label)
            if label != "status" {
                XCTAssertTrue(r.all.contains("x\\x1b[2J\\x1b]0;owned\\x07y\\u{202e}z\\x9bw"), "\(label): \(r.all.debugDescription)")
            }
            if ["add", "install", "remove"].contains(label) {
                XCTAssertTrue(r.stdout.contains("\nMULTI-LINE-KEPT\n") || r.all.contains("\nMULTI-LINE-KEPT"),
                              "\(label): script output keeps its lines: \(r.all.debugDescription)")
            }
        }
    }

    /// A failed build with --verbose shows the tail of make.log (README),
    /// escaped; both a failing MAKE and a failing patch. Without it, only
    /// where make.log is, as dkms.
    func testFailedBuildShowsMakeLogTail() {
        let fail = #"MAKE[0]="printf 'TAIL-LINE-1\\n\\033[31mTAIL-LINE-2\\342\\200\\256\\n'; exit 3""# + "\n"
        let cases = [
            ("make", "PACKAGE_NAME=hx\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=dkms_hello\nDEST_MODULE_LOCATION[0]=/updates/dkms\n" + fail,
             [String: String](), ["TAIL-LINE-1", "\\x1b[31mTAIL-LINE-2\\u{202e}"], Int32(10)),
            // Control characters in MAKE itself: the failed command is printed escaped.
            ("make-command", "PACKAGE_NAME=hx\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=dkms_hello\nDEST_MODULE_LOCATION[0]=/updates/dkms\n"
                + "MAKE[0]=$'echo TAILX \\e]0;title\\a\\e[2J; exit 3'\n", [String: String](), ["TAILX", "\\x1b]0;title\\x07\\x1b[2J"], Int32(10)),
            ("patch", Self.base + "PATCH[0]=bad.patch\n",
             ["patches/bad.patch": "--- a/target.txt\n+++ b/target.txt\n@@ -1 +1 @@\n-PATCH-TAIL\u{1b}[5m\n+x\n", "target.txt": "other\n"],
             ["Hunk #1 FAILED"], Int32(6)),
        ]
        for (label, conf, files, expected, code) in cases {
            fresh()
            let src = hostileSource("hx-1.0", conf: conf)
            for (n, t) in files {
                _ = sh(["mkdir", "-p", (src + "/" + n as NSString).deletingLastPathComponent])
                FileManager.default.createFile(atPath: src + "/" + n, contents: Data(t.utf8))
            }
            trees.addSource(src, as: "hx-1.0")
            if label == "make" {
                let plain = trees.dkms("build", "hx/1.0", "-k", k)
                XCTAssertEqual(plain.status, code, "\(label): \(plain.all)")
                // The failed command (MAKE, from dkms.conf) is shown escaped too.
                XCTAssertTrue(plain.stdout.contains("Failed command:\nprintf 'TAIL-LINE-1\\n\\033[31m"), plain.stdout)
                XCTAssertFalse(plain.stderr.contains("# exit code:"), "no make.log tail without --verbose: \(plain.stderr)")
                assertTerminalClean(plain, label)
            }
            let r = trees.dkms("build", "hx/1.0", "-k", k, "--verbose")
            XCTAssertEqual(r.status, code, "\(label): \(r.all)")
            for e in expected { XCTAssertTrue(r.stderr.contains(e), "\(label): make.log tail \(e.debugDescription) missing: \(r.all.debugDescription)") }
            XCTAssertTrue(r.stderr.contains("# exit code:"), "\(label): the tail of make.log: \(r.stderr)")
            assertTerminalClean(r, label)
        }
    }

    /// Names planted in the tree directly (a tree made by something else)
    /// are shown escaped by `dkms status`, text and JSON.
    func testStatusEscapesNamesFromTheTree() throws {
        let fm = FileManager.default
        let src = trees.sourceTree + "/plain"
        try fm.createDirectory(atPath: src, withIntermediateDirectories: true)
        for (m, v) in [("evil\u{1b}[2J", "1.0"), ("ok", "1.0\u{202e}fdp.exe"), ("nl\nfake", "1")] {
            try fm.createDirectory(atPath: "\(trees.dkmsTree)/\(m)/\(v)", withIntermediateDirectories: true)
            try fm.createSymbolicLink(atPath: "\(trees.dkmsTree)/\(m)/\(v)/source", withDestinationPath: src)
        }
        let r = trees.dkms("status")
        assertTerminalClean(r, "status")
        XCTAssertTrue(r.stdout.contains("evil\\x1b[2J/1.0: added"), r.stdout.debugDescription)
        XCTAssertTrue(r.stdout.contains("ok/1.0\\u{202e}fdp.exe: added"), r.stdout.debugDescription)
        XCTAssertFalse(r.stdout.split(separator: "\n").contains { $0.hasPrefix("fake/") }, "a name added a status line: \(r.stdout)")
        let j = trees.dkms("status", "--json")
        assertTerminalClean(j, "status --json")
        XCTAssertTrue(j.stdout.contains("evil\\u001b[2J") && j.stdout.contains("1.0\\u202efdp.exe"), j.stdout.debugDescription)
        XCTAssertNotNil(try? JSONSerialization.jsonObject(with: Data(j.stdout.utf8)), "valid JSON: \(j.stdout)")
    }

    // MARK: 3. dkms add DIR

    /// `foo`/`1-0` and `foo-1`/`0` both map to `foo-1-0`: the second add
    /// must not copy into (or with --force, delete) the first's source.
    func testAddRefusesACollidingNameVersion() {
        let first = hostileSource("first", conf: "PACKAGE_NAME=foo-1\nPACKAGE_VERSION=0\n" + Self.module, files: ["MARK": "first\n"])
        XCTAssertEqual(trees.dkms("add", first, "-k", k).status, 0)
        let second = hostileSource("second", conf: "PACKAGE_NAME=foo\nPACKAGE_VERSION=1-0\n" + Self.module,
                                   files: ["MARK": "second\n", "Makefile": "evil\n"])
        let before = digest()
        for force in [false, true] {
            let r = trees.dkms(["add", second, "-k", k] + (force ? ["--force"] : []))
            XCTAssertEqual(r.status, 3, "force \(force): \(r.all)")
            XCTAssertTrue(r.stderr.contains("foo-1-0 already exists: it is the source of foo-1/0"), r.stderr)
            XCTAssertEqual(digest(), before, "force \(force): something changed")
        }
        // Not in the tree, but a different source already there: refused without --force.
        _ = sh(["rm", "-rf", trees.dkmsTree + "/foo-1"])
        let before2 = digest()
        let r = trees.dkms("add", second, "-k", k)
        XCTAssertEqual(r.status, 3, r.all)
        XCTAssertTrue(r.stderr.contains("already exists and is a directory holding a different source"), r.stderr)
        XCTAssertEqual(digest(), before2)
        // The same source again is fine (nothing to copy).
        let again = trees.dkms("add", first, "-k", k)
        XCTAssertEqual(again.status, 0, again.all)
    }

    /// A link planted at $source_tree/<name>-<version>, to a directory
    /// outside or dangling: refused, never written through; --force removes
    /// the link itself, never what it points to.
    func testAddNeverCopiesThroughAPlantedLink() {
        for target in [outside + "/dir", outside + "/missing"] {
            fresh()
            let src = hostileSource("hx", conf: Self.base, files: ["MARK": "hx\n"])
            let dest = trees.sourceTree + "/hx-1.0"
            XCTAssertEqual(symlink(target, dest), 0)
            let before = digest()
            let r = trees.dkms("add", src, "-k", k)
            XCTAssertEqual(r.status, 3, "\(target): \(r.all)")
            XCTAssertTrue(r.stderr.contains("already exists and is a symbolic link"), r.stderr)
            XCTAssertEqual(digest(), before, "\(target): something changed")
            let f = trees.dkms("add", src, "-k", k, "--force")
            XCTAssertEqual(f.status, 0, f.all)
            XCTAssertFalse(FS_isLink(dest), "the copy went into a fresh directory")
            XCTAssertEqual(try? String(contentsOfFile: dest + "/MARK"), "hx\n")
            XCTAssertEqual(FS_list(outside + "/dir"), ["keep"], "nothing written through the link")
            XCTAssertFalse(FileManager.default.fileExists(atPath: outside + "/missing"))
        }
    }

    /// Links in the source pointing outside it are copied as links (dkms's
    /// cp -R), never followed: neither a file's nor a directory's content
    /// outside the source is copied; a dkms.conf that is a link is refused.
    func testAddDoesNotFollowLinksOutOfTheSource() throws {
        let src = hostileSource("hx", conf: Self.base)
        for (name, target) in [("abs-file", outside + "/secret"), ("rel-file", "../../outside/secret"),
                               ("abs-dir", outside + "/dir"), ("rel-dir", "../../outside/dir"), ("etc", "/etc")] {
            XCTAssertEqual(symlink(target, src + "/" + name), 0)
        }
        let r = trees.dkms("add", src, "-k", k)
        XCTAssertEqual(r.status, 0, r.all)
        let dest = trees.sourceTree + "/hx-1.0"
        for name in ["abs-file", "rel-file", "abs-dir", "rel-dir", "etc"] {
            XCTAssertTrue(FS_isLink(dest + "/" + name), "\(name) copied as its target")
        }
        let copied = sh(["grep", "-r", "--no-messages", "-l", "outside-secret", dest]).stdout
        XCTAssertEqual(copied, "", "content from outside copied: \(copied)")
        XCTAssertEqual(sh(["find", dest, "-type", "f", "-name", "keep"]).stdout, "")

        // dkms.conf itself a link (to a valid conf outside): refused, nothing copied.
        fresh()
        let other = hostileSource("elsewhere", conf: Self.base)
        let linked = trees.base + "/incoming/linked"
        _ = sh(["mkdir", "-p", linked])
        XCTAssertEqual(symlink(other + "/dkms.conf", linked + "/dkms.conf"), 0)
        let before = digest()
        let l = trees.dkms("add", linked, "-k", k)
        XCTAssertEqual(l.status, 9, l.all)
        XCTAssertTrue(l.stderr.contains("dkms.conf is a symbolic link"), l.stderr)
        XCTAssertEqual(digest(), before)
    }

    // MARK: 4. bash completion

    /// Names from the trees are never evaluated by the completion, and are
    /// offered literally; tried as module names, versions, NAME/VERSION
    /// words, source directories, kernel directories.
    func testBashCompletionNeverEvaluatesNames() throws {
        let fm = FileManager.default
        let work = trees.base + "/cwd"
        try fm.createDirectory(atPath: work, withIntermediateDirectories: true)
        let hostile = ["$(touch M1)", "`touch M2`", "*", "a b", "x'y", "$((1+1))", "${PATH}", "{a,b}", "good"]
        for n in hostile {
            try fm.createDirectory(atPath: "\(trees.dkmsTree)/\(n)/1.0", withIntermediateDirectories: true)
            try fm.createSymbolicLink(atPath: "\(trees.dkmsTree)/\(n)/1.0/source", withDestinationPath: "/nonexistent")
            try fm.createDirectory(atPath: "\(trees.sourceTree)/\(n)-2.0", withIntermediateDirectories: true)
            fm.createFile(atPath: "\(trees.sourceTree)/\(n)-2.0/dkms.conf", contents: Data())
            try fm.createDirectory(atPath: "\(trees.installTree)/\(n)", withIntermediateDirectories: true)
        }
        try fm.createDirectory(atPath: "\(trees.dkmsTree)/good/$(touch M3)", withIntermediateDirectories: true)
        try fm.createSymbolicLink(atPath: "\(trees.dkmsTree)/good/$(touch M3)/source", withDestinationPath: "/nonexistent")

        func complete(_ words: [String]) -> [String] {
            let script = """
            source "$1"; shift
            COMP_WORDS=("$@")
            COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
            _dkms dkms "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
            printf '%s\\0' "${COMPREPLY[@]}"
            """
            let r = sh(["/bin/bash", "-c", script, "_", Integration.completion] + words, cwd: work)
            XCTAssertEqual(r.stderr, "", "\(words)")
            return r.stdout.split(separator: "\0").map(String.init)
        }
        let t = ["--dkmstree", trees.dkmsTree, "--sourcetree", trees.sourceTree, "--installtree", trees.installTree]
        XCTAssertEqual(Set(complete(["dkms", "install"] + t + ["-m", ""])), Set(hostile))
        XCTAssertEqual(complete(["dkms", "install"] + t + ["-m", "$(t"]), ["$(touch M1)"], "matched literally")
        XCTAssertEqual(complete(["dkms", "install"] + t + ["-m", "*"]), ["*"], "a glob in the word is literal")
        XCTAssertEqual(Set(complete(["dkms", "remove"] + t + [""])), Set(hostile.map { $0 + "/1.0" } + ["good/$(touch M3)"]))
        XCTAssertEqual(Set(complete(["dkms", "build"] + t + ["-m", "good", "-v", ""])), ["1.0", "$(touch M3)"])
        XCTAssertEqual(complete(["dkms", "build"] + t + ["-m", "$(touch M1)", "-v", ""]), ["1.0"])
        XCTAssertEqual(Set(complete(["dkms", "add"] + t + ["-m", ""])), Set(hostile))
        XCTAssertEqual(complete(["dkms", "add"] + t + ["-m", "`touch M2`", "-v", ""]), ["2.0"])
        XCTAssertTrue(Set(complete(["dkms", "add"] + t + [""])).isSuperset(of: hostile.map { $0 + "/2.0" }))
        XCTAssertEqual(Set(complete(["dkms", "build"] + t + ["-k", ""])), Set(Kernels.all + hostile))
        XCTAssertEqual(FS_list(work), [], "a name was evaluated: \(FS_list(work))")
    }
}

func FS_list(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
}

func FS_isLink(_ path: String) -> Bool {
    var st = stat()
    return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK
}
