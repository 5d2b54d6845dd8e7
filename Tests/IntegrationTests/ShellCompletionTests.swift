import XCTest
import Foundation
import TestSupport

/// The zsh and fish completions (scripts/completion/_dkms, dkms.fish) against the same trees
/// and expectations as the bash one (HookTests): candidates from the trees named on the line,
/// and names from the trees offered as they are, never run.
///
/// fish is driven through its own engine (`complete -C LINE`). zsh's completion system needs a
/// terminal; its function runs here with the widget's variables set (`words`, `CURRENT`,
/// `PREFIX`) and `compadd`/`_files` recording what they are given, and its registration is
/// checked through a real `compinit`.
final class ShellCompletionTests: XCTestCase {
    var sb: TestTrees!
    override func setUp() { sb = TestTrees() }
    override func tearDown() { sb.cleanup() }

    static let zsh = Repo.root + "/scripts/completion/_dkms"
    static let fish = Repo.root + "/scripts/completion/dkms.fish"

    enum Shell: CaseIterable { case zsh, fish }

    func complete(_ shell: Shell, _ line: String) -> [String] {
        switch shell {
        case .fish:
            let r = sh(["/usr/bin/fish", "--no-config", "-c", "source $argv[1]; complete -C $argv[2]", ShellCompletionTests.fish, line])
            XCTAssertEqual(r.status, 0, r.all)
            return r.stdout.split(separator: "\n").map { String($0.split(separator: "\t", omittingEmptySubsequences: false)[0]) }
        case .zsh:
            let stub = """
            compadd() { while [[ $1 == -* && $1 != -- ]]; do shift; done; [[ $1 == -- ]] && shift; print -rl -- "$@"; }
            _files() { :; }
            source "$1" >/dev/null 2>&1
            words=(${(z)2}); [[ $2 == *' ' ]] && words+=('')
            CURRENT=${#words}; PREFIX=${words[CURRENT]}
            _dkms
            """
            let r = sh(["/usr/bin/zsh", "-f", "-c", stub, "zsh", ShellCompletionTests.zsh, line])
            XCTAssertEqual(r.status, 0, r.all)
            return r.stdout.split(separator: "\n").map(String.init)
        }
    }

    func testActionsOptionsAndTheTreesOnTheLine() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/zsh") && FileManager.default.isExecutableFile(atPath: "/usr/bin/fish"),
                          "zsh and fish come with scripts/install-deps.sh")
        try sb.addCompletionFixtures()
        let t = "--dkmstree \(sb.dkmsTree)"
        for shell in Shell.allCases {
            let actions = complete(shell, "dkms ")
            for a in ["add", "build", "install", "uninstall", "unbuild", "remove", "status", "autoinstall", "cache", "verify", "cleanup"] {
                XCTAssertTrue(actions.contains(a), "\(shell): \(a) in \(actions)")
            }
            XCTAssertEqual(complete(shell, "dkms un").sorted(), ["unbuild", "uninstall"], "\(shell)")
            XCTAssertEqual(complete(shell, "dkms status --no-s"), ["--no-sandbox"], "\(shell)")
            XCTAssertEqual(complete(shell, "dkms cache ").sorted(), ["clear", "prune", "stats", "verify"], "\(shell)")
            XCTAssertEqual(complete(shell, "dkms \(t) install -m ").sorted(), ["bar", "foo"], "\(shell)")
            XCTAssertEqual(complete(shell, "dkms install \(t) -m foo -v ").sorted(), ["1.0", "2.0"], "\(shell)")
            XCTAssertEqual(complete(shell, "dkms --dkmstree=\(sb.dkmsTree) remove ").sorted(), ["bar/0.3", "foo/1.0", "foo/2.0"], "\(shell)")
            XCTAssertEqual(complete(shell, "dkms remove \(t) foo/2"), ["foo/2.0"], "\(shell)")
            XCTAssertEqual(complete(shell, "dkms add --sourcetree \(sb.sourceTree) -m "), ["new-mod"], "\(shell)")
            XCTAssertEqual(complete(shell, "dkms add --sourcetree \(sb.sourceTree) -m new-mod -v "), ["3.1"], "\(shell)")
            XCTAssertEqual(complete(shell, "dkms build --installtree \(sb.installTree) -k ").sorted(), Kernels.all.sorted(), "\(shell)")
        }
    }

    func testNamesFromTheTreesAreNeverRun() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/zsh") && FileManager.default.isExecutableFile(atPath: "/usr/bin/fish"),
                          "zsh and fish come with scripts/install-deps.sh")
        let fm = FileManager.default
        let marker = sb.base + "/expanded"
        setenv("DKMS_COMPLETION_MARKER", marker, 1)
        defer { unsetenv("DKMS_COMPLETION_MARKER") }
        // Command substitutions of both shells, parameters, globs.
        let hostile = ["$(touch $DKMS_COMPLETION_MARKER)", "`touch $DKMS_COMPLETION_MARKER`", "(touch $DKMS_COMPLETION_MARKER)",
                       "${PATH}", "*", "$HOME"]
        for m in hostile {
            try fm.createDirectory(atPath: "\(sb.dkmsTree)/\(m)/1.0", withIntermediateDirectories: true)
            try fm.createSymbolicLink(atPath: "\(sb.dkmsTree)/\(m)/1.0/source", withDestinationPath: sb.sourceTree)
            try fm.createDirectory(atPath: "\(sb.sourceTree)/\(m)-2.0", withIntermediateDirectories: true)
            fm.createFile(atPath: "\(sb.sourceTree)/\(m)-2.0/dkms.conf", contents: Data())
        }
        for shell in Shell.allCases {
            XCTAssertEqual(complete(shell, "dkms --dkmstree \(sb.dkmsTree) install -m ").sorted(), hostile.sorted(), "\(shell)")
            XCTAssertEqual(complete(shell, "dkms --dkmstree \(sb.dkmsTree) remove ").sorted(), hostile.map { $0 + "/1.0" }.sorted(), "\(shell)")
            XCTAssertEqual(complete(shell, "dkms --sourcetree \(sb.sourceTree) add -m ").sorted(), hostile.sorted(), "\(shell)")
            XCTAssertFalse(fm.fileExists(atPath: marker), "\(shell): a name from the tree was run as a command")
        }
    }

    /// compinit finds _dkms through its #compdef line, as from /usr/share/zsh/vendor-completions.
    func testZshRegistersTheCompletionForDkms() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/zsh"), "zsh comes with scripts/install-deps.sh")
        let dir = sb.base + "/zfunc"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: ShellCompletionTests.zsh, toPath: dir + "/_dkms")
        let r = sh(["/usr/bin/zsh", "-f", "-c", "fpath=($1 $fpath); autoload -U compinit; compinit -u -d $1/.zcompdump; print -r -- ${_comps[dkms]}",
                    "zsh", dir], env: ["HOME": sb.base])
        XCTAssertEqual(r.stdout, "_dkms\n", r.all)
    }
}
