import XCTest
import Foundation
import Glibc
import TestSupport

/// Issue #12, reading trees a module controls: the build's upper layer,
/// the source (the lower layer), POST_BUILD's directory. Every read the
/// root process makes there is resolved beneath the layer without following
/// a link; each attack is tried with openat2 and with the descriptor-walk
/// fallback (DKMS_SWIFT_BENEATH_FALLBACK=1).
extension SupervisorHardeningTests {
    static let resolutions: [(label: String, env: [String: String])] = [("openat2", [:]), ("fallback", ["DKMS_SWIFT_BENEATH_FALLBACK": "1"])]

    /// Bait a module would like the root process to take for its output:
    /// a valid module for this kernel, and a secret, outside every tree.
    func plantOutsideModule() {
        _ = sh(["cp", Hostile.prebuiltModule, outside + "/dir/dkms_hello.ko"])
    }

    /// Nothing of the bait reached the trees, nothing was installed, no
    /// mount or sandbox process was left behind.
    func assertNothingTaken(_ label: String, file: StaticString = #filePath, line: UInt = #line) {
        let secret = sh(["grep", "-r", "--no-messages", "-l", "outside-secret", trees.dkmsTree, trees.root]).stdout
        XCTAssertEqual(secret, "", "\(label): the outside secret was copied: \(secret)", file: file, line: line)
        XCTAssertEqual(sh(["find", trees.installTree, "-name", "*.ko*"]).stdout, "", "\(label): something was installed", file: file, line: line)
        XCTAssertEqual(HostState.mounts(under: trees.base), [], "\(label): mounts left", file: file, line: line)
        XCTAssertEqual(HostState.orphanedSandboxProcesses(), [], "\(label): processes left", file: file, line: line)
    }

    /// A built module (BUILT_MODULE_LOCATION and the .ko itself) reached
    /// through a link, in the source or made by the build, in a directory
    /// component or the last one, is refused (exit 7); the bait outside
    /// (a valid module for this kernel) is never taken.
    func testBuiltModulesAreNeverReadThroughALink() {
        let out = { (s: String) in s.replacingOccurrences(of: "OUT", with: self.outside) }
        let cases: [(label: String, conf: String, links: [(String, String)])] = [
            ("source-link-dir", "BUILT_MODULE_LOCATION[0]=out/\nMAKE[0]=true\n", [("out", "OUT/dir")]),
            ("source-link-file", "MAKE[0]=true\n", [("dkms_hello.ko", "OUT/dir/dkms_hello.ko")]),
            ("source-link-deep", "BUILT_MODULE_LOCATION[0]=a/dir/\nMAKE[0]=true\n", [("a", "OUT")]),
            ("upper-link-dir", "BUILT_MODULE_LOCATION[0]=out/\nMAKE[0]=\"ln -s OUT/dir out\"\n", []),
            ("upper-link-file", "MAKE[0]=\"ln -s OUT/dir/dkms_hello.ko dkms_hello.ko\"\n", []),
            ("upper-link-parent", "BUILT_MODULE_LOCATION[0]=d/o/dir/\nMAKE[0]=\"mkdir d && ln -s OUT d/o\"\n", []),
        ]
        for (how, env) in Self.resolutions {
            for c in cases {
                fresh()
                plantOutsideModule()
                // STRIP=no: strip (in the sandbox) would fail on a dangling link before the root process reads.
                let conf = "PACKAGE_NAME=hx\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=dkms_hello\nDEST_MODULE_LOCATION[0]=/updates/dkms\nSTRIP[0]=no\n" + out(c.conf)
                let src = hostileSource("hx", conf: conf)
                for (name, target) in c.links {
                    _ = sh(["mkdir", "-p", (src + "/" + name as NSString).deletingLastPathComponent])
                    XCTAssertEqual(symlink(out(target), src + "/" + name), 0)
                }
                let label = "\(how) \(c.label)"
                let add = trees.dkms(["add", src, "-k", k], extraEnv: env)
                XCTAssertEqual(add.status, 0, "\(label): \(add.all)")
                let before = sh(["sha256sum", outside + "/dir/dkms_hello.ko", outside + "/secret"]).stdout
                let r = trees.dkms(["install", "hx/1.0", "-k", k, "--no-cache"], extraEnv: env)
                XCTAssertEqual(r.status, 7, "\(label): \(r.all)")
                XCTAssertTrue(r.stderr.contains("dkms_hello.ko"), "\(label): names the module: \(r.stderr)")
                XCTAssertFalse(FileManager.default.fileExists(atPath: "\(trees.dkmsTree)/hx/1.0/\(k)/\(Hostile.arch)"), "\(label): a build was published")
                XCTAssertEqual(sh(["sha256sum", outside + "/dir/dkms_hello.ko", outside + "/secret"]).stdout, before, label)
                assertNothingTaken(label)
            }
        }
    }

    /// Module.symvers a link (made by the build, or shipped in the source)
    /// to a host file: the build is kept without it, and the file's content
    /// reaches neither the tree nor the install tree.
    func testModuleSymversIsNeverReadThroughALink() {
        let cases: [(label: String, make: String, link: Bool)] = [
            ("upper", "cp prebuilt/dkms_hello.ko . \\&\\& ln -sf OUT/secret Module.symvers", false),
            ("source", "cp prebuilt/dkms_hello.ko .", true),
            ("upper-dir", "cp prebuilt/dkms_hello.ko . \\&\\& mkdir Module.symvers", false),
        ]
        for (how, env) in Self.resolutions {
            for c in cases {
                fresh()
                let make = c.make.replacingOccurrences(of: "OUT", with: outside).replacingOccurrences(of: "\\&", with: "&")
                let src = hostileSource("hx", conf: "PACKAGE_NAME=hx\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=dkms_hello\nDEST_MODULE_LOCATION[0]=/updates/dkms\nMAKE[0]=\"\(make)\"\n")
                if c.link { XCTAssertEqual(symlink(outside + "/secret", src + "/Module.symvers"), 0) }
                let label = "\(how) \(c.label)"
                XCTAssertEqual(trees.dkms(["add", src, "-k", k], extraEnv: env).status, 0, label)
                let r = trees.dkms(["build", "hx/1.0", "-k", k, "--no-cache"], extraEnv: env)
                XCTAssertEqual(r.status, 0, "\(label): \(r.all)")
                let built = "\(trees.dkmsTree)/hx/1.0/\(k)/\(Hostile.arch)/module"
                XCTAssertTrue(FileManager.default.fileExists(atPath: built + "/dkms_hello.ko"), "\(label): \(r.all)")
                XCTAssertFalse(FileManager.default.fileExists(atPath: built + "/Module.symvers"), "\(label): a linked Module.symvers was kept")
                let secret = sh(["grep", "-r", "--no-messages", "-l", "outside-secret", trees.dkmsTree]).stdout
                XCTAssertEqual(secret, "", "\(label): \(secret)")
                XCTAssertEqual(HostState.mounts(under: trees.base), [], label)
            }
        }
    }

    /// POST_BUILD leaves links (to a file, to a directory) and a directory
    /// holding a file beside the build: none is followed or taken, a plain
    /// file is.
    func testPostBuildFilesAreReadBeneathTheirDirectory() {
        let script = "#!/bin/sh\nset -e\nd=\"$1/hx/1.0/$2/$3\"\nln -s \(outside!)/secret \"$d/link.h\"\nln -s \(outside!)/dir \"$d/dirlink\"\nmkdir \"$d/sub\" && echo x > \"$d/sub/inner.h\"\necho plain > \"$d/plain.h\"\n"
        for (how, env) in Self.resolutions {
            fresh()
            let src = hostileSource("hx", conf: Self.base + "POST_BUILD=\"post.sh ${dkms_tree} ${kernelver} ${arch}\"\n", files: ["post.sh": script])
            XCTAssertEqual(trees.dkms(["add", src, "-k", k], extraEnv: env).status, 0, how)
            let r = trees.dkms(["build", "hx/1.0", "-k", k, "--no-cache"], extraEnv: env)
            let arch = "\(trees.dkmsTree)/hx/1.0/\(k)/\(Hostile.arch)"
            XCTAssertEqual(r.status, 0, "\(how): \(r.all) \((try? String(contentsOfFile: arch + "/log/make.log")) ?? "")")
            XCTAssertEqual(try? String(contentsOfFile: arch + "/plain.h"), "plain\n", "\(how): the plain file is kept")
            for n in ["link.h", "dirlink", "sub"] { XCTAssertFalse(FileManager.default.fileExists(atPath: arch + "/" + n), "\(how): \(n) kept") }
            XCTAssertEqual(sh(["grep", "-r", "--no-messages", "-l", "outside-secret", trees.dkmsTree]).stdout, "", how)
        }
    }

    /// `dkms add DIR` copies through descriptors: links stay links (even
    /// ones swapped in for a directory's ancestors of the copy, which the
    /// fresh destination cannot have), set-id bits are dropped, devices
    /// and fifos are refused with nothing left behind; a source file with
    /// several names is copied as separate files.
    func testAddCopiesTheSourceWithoutFollowingOrTrustingIt() throws {
        for (how, env) in Self.resolutions {
            fresh()
            let src = hostileSource("hx", conf: Self.base, files: ["tool": "#!/bin/sh\n"])
            XCTAssertEqual(chmod(src + "/tool", 0o6755), 0)
            _ = sh(["mkdir", "-p", src + "/deep/er"])
            XCTAssertEqual(symlink(outside + "/dir", src + "/deep/er/escape"), 0)
            XCTAssertEqual(link(src + "/tool", src + "/tool2"), 0)
            let r = trees.dkms(["add", src, "-k", k], extraEnv: env)
            XCTAssertEqual(r.status, 0, "\(how): \(r.all)")
            let dest = trees.sourceTree + "/hx-1.0"
            XCTAssertTrue(FS_isLink(dest + "/deep/er/escape"), how)
            XCTAssertEqual(FS_list(outside + "/dir"), ["keep"], how)
            var st = stat()
            XCTAssertEqual(lstat(dest + "/tool", &st), 0)
            XCTAssertEqual(st.st_mode & 0o7777, 0o755, "\(how): set-id bits dropped")
            XCTAssertEqual(st.st_uid, 0, "\(how): the copy is root's")
            XCTAssertEqual(st.st_nlink, 1, how)
            XCTAssertEqual(sh(["find", dest, "-type", "f", "-name", "keep"]).stdout, "", how)

            // A fifo in the source: refused, the half-made copy removed.
            fresh()
            let bad = hostileSource("hx", conf: Self.base)
            XCTAssertEqual(mkfifo(bad + "/pipe", 0o644), 0)
            let before = digest()
            let f = trees.dkms(["add", bad, "-k", k], extraEnv: env)
            XCTAssertEqual(f.status, 9, "\(how): \(f.all)")
            XCTAssertTrue(f.stderr.contains("pipe: is a device, fifo or socket"), "\(how): \(f.stderr)")
            XCTAssertEqual(digest(), before, "\(how): something was left")
        }
    }
}

/// Issue #12, sizes: dkms.conf and what module code prints are capped
/// before they are read, with one line naming the file and the cap.
extension SupervisorHardeningTests {
    /// A dkms.conf over the 1 MiB cap (padding comments, a value, a sparse
    /// file) is refused by `add DIR`, by `add -m -v` and by a build after
    /// the file grew; nothing is written, the run goes on for other modules.
    func testOversizedConfIsRefusedBeforeItIsRead() throws {
        let pads: [(String, (String) -> Void)] = [
            ("comments", { p in FileManager.default.createFile(atPath: p, contents: Data((Self.base + String(repeating: "# pad pad pad pad\n", count: 70_000)).utf8)) }),
            ("value", { p in FileManager.default.createFile(atPath: p, contents: Data((Self.base + "PRE_BUILD=\"" + String(repeating: "x", count: 1_100_000) + "\"\n").utf8)) }),
            ("sparse", { p in FileManager.default.createFile(atPath: p, contents: Data(Self.base.utf8)); _ = truncate(p, 8 << 30) }),
        ]
        for (label, pad) in pads {
            fresh()
            let src = hostileSource("hx", conf: Self.base)
            pad(src + "/dkms.conf")
            let before = digest()
            let r = trees.dkms("add", src, "-k", k)
            XCTAssertEqual(r.status, 8, "\(label): \(r.all)")
            XCTAssertTrue(r.stderr.contains("dkms.conf is larger than the 1048576-byte limit for a dkms.conf; it was not read."), "\(label): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").filter { $0.contains("1048576") }.count, 1, r.stderr)
            XCTAssertEqual(digest(), before, "\(label): something was written")

            // Already in the source tree: `add -m -v`, then a build after it grew.
            trees.addSource(src, as: "hx-1.0")
            let m = trees.dkms("add", "-m", "hx", "-v", "1.0", "-k", k)
            XCTAssertEqual(m.status, 8, "\(label) add -m: \(m.all)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: trees.dkmsTree + "/hx/1.0/source"), label)
            FileManager.default.createFile(atPath: trees.sourceTree + "/hx-1.0/dkms.conf", contents: Data(Self.base.utf8))
            XCTAssertEqual(trees.dkms("add", "-m", "hx", "-v", "1.0", "-k", k).status, 0, label)
            pad(trees.sourceTree + "/hx-1.0/dkms.conf")
            let b = trees.dkms("build", "hx/1.0", "-k", k)
            XCTAssertEqual(b.status, 8, "\(label) build: \(b.all)")
            XCTAssertTrue(b.stderr.contains("larger than the 1048576-byte limit"), b.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: "\(trees.dkmsTree)/hx/1.0/\(k)/\(Hostile.arch)"), label)
        }
    }

    /// A dkms.conf that is a link (to a host file, to a valid conf) is not read by the root process.
    func testConfReachedThroughALinkIsNotRead() {
        for bait in ["/etc/passwd", "OUT/secret"] {
            fresh()
            let target = bait.replacingOccurrences(of: "OUT", with: outside)
            let src = hostileSource("hx", conf: Self.base)
            trees.addSource(src, as: "hx-1.0")
            unlink(trees.sourceTree + "/hx-1.0/dkms.conf")
            XCTAssertEqual(symlink(target, trees.sourceTree + "/hx-1.0/dkms.conf"), 0)
            let r = trees.dkms("add", "-m", "hx", "-v", "1.0", "-k", k)
            XCTAssertNotEqual(r.status, 0, r.all)
            XCTAssertTrue(r.stderr.contains("dkms.conf is a symbolic link"), "\(target): \(r.status) \(r.all)")
            XCTAssertFalse(r.all.contains("root:x:0") || r.all.contains("outside-secret"), r.all)
        }
    }

    /// POST_ADD printing 3 MiB: the terminal gets its last MiB, said to be truncated.
    func testScriptOutputIsReadByItsTail() {
        let script = "#!/bin/sh\nhead -c 3145728 /dev/zero | tr '\\0' a\necho END-OF-OUTPUT\n"
        let src = hostileSource("hx", conf: Self.base + "POST_ADD=post.sh\n", files: ["post.sh": script])
        let r = trees.dkms("add", src, "-k", k)
        XCTAssertEqual(r.status, 0, String(r.all.suffix(500)))
        XCTAssertTrue(r.all.contains("[dkms: output truncated to its last 1048576 bytes]"), String(r.all.prefix(500)))
        XCTAssertTrue(r.all.contains("END-OF-OUTPUT"))
        XCTAssertLessThan(r.all.utf8.count, (1 << 20) + 4096)
    }
}

/// Issue #12, patterns: BUILD_EXCLUSIVE_KERNEL/ARCH, MAKE_MATCH and
/// PATCH_MATCH are matched by bash inside the confined evaluation, never by
/// the root process. A pattern that takes glibc's matcher seconds and
/// gigabytes (nested counted repetitions) stops that module's evaluation
/// at the sandbox's limits; the other modules of the run are built.
extension SupervisorHardeningTests {
    static let slowPattern = "((.{1,100}){1,100}){1,100}"

    func testPatternsAreMatchedInTheConfinedEvaluation() {
        let good = "PACKAGE_NAME=good\nPACKAGE_VERSION=1.0\nAUTOINSTALL=yes\n" + Self.module
        let cases = [
            ("BUILD_EXCLUSIVE_KERNEL", "BUILD_EXCLUSIVE_KERNEL=\"\(Self.slowPattern)\"\n"),
            ("BUILD_EXCLUSIVE_ARCH", "BUILD_EXCLUSIVE_ARCH=\"\(Self.slowPattern)\"\n"),
            ("MAKE_MATCH", "MAKE[1]=\"cp prebuilt/dkms_hello.ko .\"\nMAKE_MATCH[1]=\"\(Self.slowPattern)\"\n"),
            ("PATCH_MATCH", "PATCH[0]=x.patch\nPATCH_MATCH[0]=\"\(Self.slowPattern)\"\n"),
        ]
        for (label, pattern) in cases {
            fresh()
            let goodSrc = hostileSource("good", conf: good)
            XCTAssertEqual(trees.dkms("add", goodSrc, "-k", k).status, 0, label)
            // The hostile module cannot be added (its evaluation is stopped), so it is planted in the tree.
            let bad = hostileSource("hx", conf: "PACKAGE_NAME=hx\nPACKAGE_VERSION=1.0\nAUTOINSTALL=yes\n" + Self.module + pattern)
            let add = trees.dkms("add", bad, "-k", k)
            XCTAssertEqual(add.status, 8, "\(label): \(add.all)")
            XCTAssertTrue(add.stderr.contains("limit was exceeded") || add.stderr.contains("evaluation did not complete"), "\(label): \(add.stderr)")
            trees.addSource(bad, as: "hx-1.0")
            _ = sh(["mkdir", "-p", trees.dkmsTree + "/hx/1.0"])
            XCTAssertEqual(symlink(trees.sourceTree + "/hx-1.0", trees.dkmsTree + "/hx/1.0/source"), 0)
            let started = Date()
            let r = trees.dkms("autoinstall", "-k", k)
            XCTAssertLessThan(Date().timeIntervalSince(started), 60, "\(label): the run was held up")
            XCTAssertTrue(r.stderr.contains("Autoinstall of hx/1.0 for kernel \(k) (\(Hostile.arch)) skipped:"), "\(label): the failing module is named: \(r.all)")
            XCTAssertTrue(r.stderr.contains("limit was exceeded") || r.stderr.contains("evaluation did not complete"), "\(label): \(r.stderr)")
            let installed = sh(["find", trees.installTree, "-name", "dkms_hello.ko*"]).stdout
            XCTAssertFalse(installed.isEmpty, "\(label): the good module was not installed: \(r.all)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: "\(trees.dkmsTree)/hx/1.0/\(k)/\(Hostile.arch)"), label)
            XCTAssertEqual(HostState.orphanedSandboxProcesses(), [], label)
        }
    }

    /// The matches still choose as dkms does: MAKE_MATCH picks the make
    /// for this kernel, BUILD_EXCLUSIVE_KERNEL excludes what does not match
    /// (exit 77 from build), a pattern with blanks is word-split first.
    func testPatternsStillChooseAsDkmsDoes() {
        let release = NSRegularExpression.escapedPattern(for: k)
        let confs: [(String, Int32, String)] = [
            (Self.base.replacingOccurrences(of: "MAKE[0]=", with: "MAKE[9]=") + "MAKE[0]=\"false\"\nMAKE_MATCH[9]=\"^\(release)$\"\n", 0, "chosen"),
            (Self.base + "BUILD_EXCLUSIVE_KERNEL=\"^no-such-kernel$\"\n", 77, "excluded"),
            (Self.base + "BUILD_EXCLUSIVE_KERNEL=\"^\(release)\"\n", 0, "included"),
            (Self.base + "BUILD_EXCLUSIVE_ARCH=\"  ^\(Hostile.arch)$  \"\n", 0, "word-split"),
        ]
        for (conf, code, label) in confs {
            fresh()
            let src = hostileSource("hx", conf: conf)
            XCTAssertEqual(trees.dkms("add", src, "-k", k).status, 0, label)
            let r = trees.dkms("build", "hx/1.0", "-k", k)
            XCTAssertEqual(r.status, code, "\(label): \(r.all)")
        }
    }
}

/// Issue #12, the cache key and the store: every byte of the source is in
/// the key (no exclusions), and an entry that does not match its key, its
/// blobs or this build's modules is never installed.
extension SupervisorHardeningTests {
    func privateTrees() -> TestTrees {
        trees.cleanup()
        trees = TestTrees(sharedCache: false)
        outside = trees.base + "/outside"
        _ = sh(["mkdir", "-p", outside + "/dir"])
        return trees
    }

    var cacheRoot: String { trees.dkmsTree + "/.cache" }

    func buildVerbose(_ args: String...) -> Run { trees.dkms(["build", "hx/1.0", "-k", k, "--verbose"] + args) }

    /// Files kbuild leaves (which the key used to leave out) and dotfiles,
    /// added to the source after a first build, each make the next build a miss.
    func testCacheKeyCoversEveryByteOfTheSource() {
        _ = privateTrees()
        let src = hostileSource("hx", conf: Self.base)
        XCTAssertEqual(trees.dkms("add", src, "-k", k).status, 0)
        XCTAssertTrue(buildVerbose().stdout.contains("Build cache: miss"))
        let copy = trees.sourceTree + "/hx-1.0"
        for extra in ["stale.o", "prebuilt/dkms_hello.mod.c", ".hidden", "Module.symvers", ".dkms_hello.o.cmd", "sub/.tmp_versions/x.mod", "modules.order"] {
            XCTAssertEqual(trees.dkms("remove", "hx/1.0", "--all").status, 0, extra)
            _ = sh(["mkdir", "-p", (copy + "/" + extra as NSString).deletingLastPathComponent])
            FileManager.default.createFile(atPath: copy + "/" + extra, contents: Data("\(extra)\n".utf8))
            XCTAssertEqual(trees.dkms("add", "-m", "hx", "-v", "1.0", "-k", k).status, 0, extra)
            let r = buildVerbose()
            XCTAssertEqual(r.status, 0, "\(extra): \(r.all)")
            XCTAssertTrue(r.stdout.contains("Build cache: miss"), "\(extra) is not in the key: \(r.stdout)")
        }
        // Unchanged, it is a hit (the cache works at all).
        XCTAssertEqual(trees.dkms("remove", "hx/1.0", "--all").status, 0)
        XCTAssertEqual(trees.dkms("add", "-m", "hx", "-v", "1.0", "-k", k).status, 0)
        XCTAssertTrue(buildVerbose().stdout.contains("Build cache: hit"))
    }

    /// Tampered entries: a blob's bytes changed, a record moved to another
    /// key, a record whose components were edited, a record naming another
    /// module file, a blob swapped for a valid module of another build
    /// whose digest the record was edited to. None is installed: the build
    /// runs and installs what the source makes.
    func testTamperedCacheEntriesAreNeverInstalled() throws {
        typealias Tamper = (_ record: String, _ blob: String) throws -> Void
        func json(_ path: String) throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        }
        func write(_ obj: [String: Any], _ path: String) throws {
            chmod(path, 0o644)
            try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: path))
        }
        let cases: [(String, Tamper)] = [
            ("blob bytes", { _, blob in chmod(blob, 0o644); let fd = open(blob, O_WRONLY); _ = pwrite(fd, "XXXX", 4, 100); close(fd) }),
            ("record under another key", { record, _ in
                var r = try json(record); let other = String(repeating: "ab", count: 32)
                let dest = (record as NSString).deletingLastPathComponent + "/../ab/" + other
                _ = sh(["mkdir", "-p", (dest as NSString).deletingLastPathComponent])
                r["key"] = other; try write(r, record)
            }),
            ("components", { record, _ in
                var r = try json(record); var c = r["components"] as! [String: String]
                c[c.keys.sorted().first!] = String(repeating: "0", count: 64); r["components"] = c; try write(r, record)
            }),
            ("another module file", { record, _ in
                var r = try json(record); var files = r["files"] as! [[String: Any]]
                var f = files[0]; f["path"] = "evil.ko"; files.append(f); r["files"] = files; try write(r, record)
            }),
            ("module file renamed", { record, _ in
                var r = try json(record); var files = r["files"] as! [[String: Any]]
                files[0]["path"] = "other.ko"; r["files"] = files; try write(r, record)
            }),
        ]
        for (label, tamper) in cases {
            _ = privateTrees()
            let src = hostileSource("hx", conf: Self.base)
            XCTAssertEqual(trees.dkms("add", src, "-k", k).status, 0, label)
            XCTAssertTrue(buildVerbose().stdout.contains("Build cache: miss"), label)
            let genuine = unsignedSHA256("\(trees.dkmsTree)/hx/1.0/\(k)/\(Hostile.arch)/module/dkms_hello.ko")
            XCTAssertEqual(trees.dkms("remove", "hx/1.0", "--all").status, 0, label)
            // The build's record (the signing step keeps one of its own).
            let records = try sh(["find", cacheRoot + "/records", "-type", "f"]).stdout.split(separator: "\n").map(String.init).filter {
                ((try json($0)["files"] as? [[String: Any]])?.first?["path"] as? String) == "dkms_hello.ko"
            }
            XCTAssertEqual(records.count, 1, "\(label): \(records)")
            guard records.count == 1 else { continue }
            let record = records[0]
            let blobDigest = ((try json(record)["files"] as! [[String: Any]])[0]["digest"] as! String)
            let blob = cacheRoot + "/blobs/sha256/" + blobDigest.prefix(2) + "/" + blobDigest
            try tamper(record, blob)
            XCTAssertEqual(trees.dkms("add", "-m", "hx", "-v", "1.0", "-k", k).status, 0, label)
            let r = trees.dkms("install", "hx/1.0", "-k", k, "--verbose")
            XCTAssertEqual(r.status, 0, "\(label): \(r.all)")
            XCTAssertFalse(r.stdout.contains("Build cache: hit"), "\(label): a tampered entry was restored: \(r.stdout)")
            let installed = sh(["find", trees.installTree, "-name", "dkms_hello.ko*"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            XCTAssertFalse(installed.isEmpty, label)
            if !installed.isEmpty, !installed.hasSuffix(".xz"), !installed.hasSuffix(".zst"), !installed.hasSuffix(".gz") {
                XCTAssertEqual(unsignedSHA256(installed), genuine, "\(label): what was installed is not what the source builds")
            }
            XCTAssertEqual(sh(["find", trees.installTree, "-name", "evil.ko*", "-o", "-name", "other.ko*"]).stdout, "", label)
        }
    }
}

/// Issue #12, signing: sign-file, the key and the certificate only from
/// places no module data reaches, owned by root and writable by no one
/// else; a missing key directory is a warning and is never created.
extension SupervisorHardeningTests {
    func setFramework(_ text: String) {
        let path = trees.configDir + "/framework.conf"
        let old = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        FileManager.default.createFile(atPath: path, contents: Data((old + text).utf8))
    }

    /// A sign-file that would leave a marker when run, placed where it must
    /// not be trusted: inside the module's own source (added with add DIR),
    /// reached by a link from a trusted place, in a directory others may
    /// write, owned by another uid, group-writable, and inside the dkms
    /// tree. None runs; the module is built unsigned with a warning.
    func testSignFileOnlyFromTrustedPlaces() throws {
        let marker = "/tmp/dkms-signfile-ran-\(getpid())"
        let tool = "#!/bin/sh\ntouch \(marker)\nexit 0\n"
        let cases: [(String, (String) -> String)] = [
            ("module source", { src in src }),
            ("link to the source", { src in
                let d = self.trees.base + "/trusted"; _ = sh(["mkdir", "-p", d]); symlink(src, d + "/sign-file"); return d + "/sign-file" }),
            ("others may write", { _ in
                let d = self.trees.base + "/open"; _ = sh(["mkdir", "-p", d]); chmod(d, 0o777)
                FileManager.default.createFile(atPath: d + "/sign-file", contents: Data(tool.utf8)); chmod(d + "/sign-file", 0o755); return d + "/sign-file" }),
            ("other owner", { _ in
                let p = self.trees.base + "/theirs"
                FileManager.default.createFile(atPath: p, contents: Data(tool.utf8)); chmod(p, 0o755); chown(p, 1234, 1234); return p }),
            ("group-writable", { _ in
                let p = self.trees.base + "/gw"
                FileManager.default.createFile(atPath: p, contents: Data(tool.utf8)); chmod(p, 0o775); return p }),
            ("dkms tree", { _ in
                let p = self.trees.dkmsTree + "/sign-file"
                FileManager.default.createFile(atPath: p, contents: Data(tool.utf8)); chmod(p, 0o755); return p }),
        ]
        for (label, place) in cases {
            fresh()
            unlink(marker)
            let src = hostileSource("hx", conf: Self.base, files: ["sign-file": tool])
            XCTAssertEqual(trees.dkms("add", src, "-k", k).status, 0, label)
            let path = place(trees.sourceTree + "/hx-1.0/sign-file")
            setFramework("sign_file=\(path)\n")
            let r = trees.dkms("build", "hx/1.0", "-k", k, "--no-cache")
            XCTAssertEqual(r.status, 0, "\(label): \(r.all)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "\(label): the untrusted sign-file ran")
            XCTAssertTrue(r.stderr.contains("Warning: Sign command \(path) is not trusted ("), "\(label): \(r.all)")
            let built = "\(trees.dkmsTree)/hx/1.0/\(k)/\(Hostile.arch)/module/dkms_hello.ko"
            XCTAssertFalse(modinfo("signer", built).count > 0, "\(label): signed anyway")
        }
        unlink(marker)
    }

    /// A key and certificate the module ships (configured by path into its
    /// source) are not used; a configured key in a missing directory is a
    /// warning and the directory is not created; the default key signs.
    func testSigningKeysOnlyFromTrustedPlaces() {
        let src = hostileSource("hx", conf: Self.base)
        XCTAssertEqual(trees.dkms("add", src, "-k", k).status, 0)
        let copy = trees.sourceTree + "/hx-1.0"
        _ = sh(["openssl", "req", "-new", "-x509", "-nodes", "-days", "1", "-subj", "/CN=module/", "-newkey", "rsa:2048",
                "-keyout", copy + "/mok.key", "-outform", "DER", "-out", copy + "/mok.pub"])
        setFramework("mok_signing_key=\(copy)/mok.key\nmok_certificate=\(copy)/mok.pub\n")
        let r = trees.dkms("build", "hx/1.0", "-k", k, "--no-cache")
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(r.stderr.contains("Warning: Signing key \(copy)/mok.key is not trusted (it lies in the module source"), r.all)
        let built = "\(trees.dkmsTree)/hx/1.0/\(k)/\(Hostile.arch)/module/dkms_hello.ko"
        XCTAssertEqual(modinfo("signer", built), "", "signed with the module's key")

        fresh()
        let src2 = hostileSource("hx", conf: Self.base)
        XCTAssertEqual(trees.dkms("add", src2, "-k", k).status, 0)
        let missing = trees.base + "/no-such-dir"
        setFramework("mok_signing_key=\(missing)/mok.key\nmok_certificate=\(missing)/mok.pub\n")
        let m = trees.dkms("build", "hx/1.0", "-k", k, "--no-cache")
        XCTAssertEqual(m.status, 0, m.all)
        XCTAssertTrue(m.stdout.contains("Key file \(missing)/mok.key not found and can't be generated, modules won't be signed"), m.all)
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing), "the key's directory was created")

        // The default key, in the dkms tree's top: trusted, generated, signs.
        fresh()
        let src3 = hostileSource("hx", conf: Self.base)
        XCTAssertEqual(trees.dkms("add", src3, "-k", k).status, 0)
        let d = trees.dkms("build", "hx/1.0", "-k", k, "--no-cache")
        XCTAssertEqual(d.status, 0, d.all)
        XCTAssertFalse(d.stderr.contains("not trusted"), d.all)
        XCTAssertNotEqual(modinfo("signer", "\(trees.dkmsTree)/hx/1.0/\(k)/\(Hostile.arch)/module/dkms_hello.ko"), "", d.all)
    }

    /// `add --force` replaces a module source, never a directory that is
    /// not one (kernel headers sharing the <name>-<version> shape).
    func testAddForceNeverReplacesWhatIsNotAModuleSource() {
        let src = hostileSource("hx", conf: Self.base)
        let dest = trees.sourceTree + "/hx-1.0"
        _ = sh(["mkdir", "-p", dest + "/scripts"])
        FileManager.default.createFile(atPath: dest + "/scripts/sign-file", contents: Data("headers\n".utf8))
        let before = digest()
        let r = trees.dkms("add", src, "-k", k, "--force")
        XCTAssertEqual(r.status, 3, r.all)
        XCTAssertTrue(r.stderr.contains("is not a module source"), r.stderr)
        XCTAssertEqual(digest(), before)
    }
}

/// Issue #12, originals: no module takes another dkms module's installed
/// file as its original or replaces it, and `remove` never deletes a file
/// another installed module owns.
extension SupervisorHardeningTests {
    func installGood() -> String {
        let good = hostileSource("good", conf: "PACKAGE_NAME=good\nPACKAGE_VERSION=1.0\n" + Self.module)
        let r = trees.dkms("install", good, "-k", k)
        XCTAssertEqual(r.status, 0, r.all)
        let file = sh(["find", trees.installTree, "-name", "dkms_hello.ko*"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertFalse(file.isEmpty)
        return file
    }

    func testNoModuleClaimsAnotherModulesFile() {
        for location in ["/updates/dkms", "/extra", "/kernel/drivers/misc"] {
            fresh()
            let file = installGood()
            let before = sha256(file)
            let conf = "PACKAGE_NAME=hx\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=dkms_hello\nDEST_MODULE_LOCATION[0]=\(location)\nMAKE[0]=\"cp prebuilt/dkms_hello.ko .\"\n"
            let hx = hostileSource("hx", conf: conf)
            let r = trees.dkms("install", hx, "-k", k)
            XCTAssertEqual(r.status, 6, "\(location): \(r.all)")
            XCTAssertTrue(r.stderr.contains("is installed by the dkms module good/1.0"), "\(location): \(r.stderr)")
            XCTAssertEqual(sha256(file), before, "\(location): good's file changed")
            XCTAssertFalse(FileManager.default.fileExists(atPath: trees.dkmsTree + "/hx/original_module"), location)
            XCTAssertEqual(trees.dkms("remove", "hx/1.0", "--all").status, 0, location)
            XCTAssertEqual(sha256(file), before, "\(location): remove of hx touched good's file")
            XCTAssertTrue(trees.dkms("status").stdout.contains("good/1.0, \(k), \(Hostile.arch): installed"), location)
        }
    }

    /// A tree whose record claims another module's file (forged, or left by
    /// an older dkms): remove leaves that file, with a warning.
    func testRemoveNeverDeletesAFileItDidNotInstall() throws {
        let file = installGood()
        let before = sha256(file)
        let conf = "PACKAGE_NAME=hx\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=dkms_hello\nDEST_MODULE_NAME[0]=hx_mod\nDEST_MODULE_LOCATION[0]=/updates/dkms\nMAKE[0]=\"cp prebuilt/dkms_hello.ko .\"\n"
        let hx = hostileSource("hx", conf: conf)
        XCTAssertEqual(trees.dkms("install", hx, "-k", k).status, 0)
        let manifest = "\(trees.dkmsTree)/hx/1.0/\(k)/\(Hostile.arch)/log/dkms-swift.manifest"
        let text = try String(contentsOfFile: manifest, encoding: .utf8)
        XCTAssertTrue(text.contains("hx_mod"), text)
        try text.replacingOccurrences(of: "hx_mod", with: "dkms_hello").write(toFile: manifest, atomically: true, encoding: .utf8)
        let r = trees.dkms("remove", "hx/1.0", "--all")
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(r.stderr.contains("is installed by the dkms module good/1.0; left in place."), r.all)
        XCTAssertEqual(sha256(file), before, "good's file was removed or changed")
        XCTAssertTrue(trees.dkms("status").stdout.contains("good/1.0, \(k), \(Hostile.arch): installed"))
    }
}
