import XCTest
import Foundation
import TestSupport

/// POST_BUILD writes beside the build, as zfs-dkms's dkms.postbuild does
/// (`cp zfs_config.h module/Module.symvers $dkms_tree/<m>/<v>/<k>/<arch>/`):
/// the plain files it leaves there are kept with the build and come back
/// from the cache; links, devices, oversized files and reserved names are not.
final class PostBuildTests: XCTestCase {
    func testFilesWrittenBesideTheBuildAreKeptAndRestoredFromTheCache() throws {
        let sb = TestTrees(sharedCache: false)
        defer { sb.cleanup() }
        let k = Kernels.all[0]
        let src = sb.sourceTree + "/pb-1.0"
        writeModule(at: src, name: "pb", conf: """
        PACKAGE_NAME=pb
        PACKAGE_VERSION=1.0
        BUILT_MODULE_NAME[0]=pb
        POST_BUILD="postbuild.sh
          -n ${PACKAGE_NAME} -v ${PACKAGE_VERSION} -a ${arch} -k ${kernelver} -t ${dkms_tree}
        "
        """, extraFiles: ["postbuild.sh": """
        #!/bin/sh
        while getopts "a:k:n:t:v:" o; do case $o in a) a=$OPTARG;; k) k=$OPTARG;; n) n=$OPTARG;; t) t=$OPTARG;; v) v=$OPTARG;; esac; done
        out="$t/$n/$v/$k/$a"
        [ -f "$out/module/pb.ko" ] || { echo "no module/ beside: $out"; exit 1; }
        echo config > "$out/pb_config.h"
        cp Module.symvers "$out/"
        ln -s /etc/shadow "$out/shadow-link"
        mkfifo "$out/fifo"
        mkdir "$out/subdir"
        echo x > "$out/module/extra.ko" 2>/dev/null && echo "module/ was writable"
        echo y > "$out/log" 2>/dev/null
        exit 0
        """])
        XCTAssertEqual(sb.dkms("add", "pb/1.0").status, 0)
        var r = sb.dkms("build", "pb/1.0", "-k", k)
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertFalse(r.all.contains("module/ was writable"), r.all)
        let arch = "\(sb.dkmsTree)/pb/1.0/\(k)/x86_64"
        func listing() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: arch)) ?? []).sorted() }
        XCTAssertEqual(listing(), ["Module.symvers", "log", "module", "pb_config.h"])
        XCTAssertEqual(try String(contentsOfFile: arch + "/pb_config.h", encoding: .utf8), "config\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: arch + "/module").sorted(), ["Module.symvers", "pb.ko"])
        let log = try String(contentsOfFile: arch + "/log/make.log", encoding: .utf8)
        for dropped in ["shadow-link", "fifo", "subdir"] {
            XCTAssertTrue(log.contains("POST_BUILD left '\(dropped)'"), "\(dropped) noted in make.log:\n\(log)")
        }

        // A cache hit brings them back without running POST_BUILD.
        XCTAssertEqual(sb.dkms("unbuild", "pb/1.0", "-k", k).status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: arch))
        r = sb.dkms("build", "pb/1.0", "-k", k)
        XCTAssertEqual(r.status, 0, r.all)
        // Its progress lines are dkms's for the build it stands in for (the
        // POST_BUILD line too); the cache mark says nothing ran.
        XCTAssertTrue(r.stdout.contains("Building module(s)... done.") && r.stdout.contains("Running the post_build script... done."), r.all)
        XCTAssertEqual((try? String(contentsOfFile: arch + "/log/dkms-swift.cache", encoding: .utf8))?.hasSuffix(" hit\n"), true)
        XCTAssertEqual(listing(), ["Module.symvers", "log", "module", "pb_config.h"])
        XCTAssertEqual(try String(contentsOfFile: arch + "/pb_config.h", encoding: .utf8), "config\n")

        // A failing POST_BUILD: the build is published, as dkms leaves it, but not cached.
        XCTAssertEqual(sb.dkms("remove", "pb/1.0", "--all").status, 0)
        try "#!/bin/sh\necho partial > \"$dkms_tree/pb/1.0/$kernelver/$arch/partial.h\"\nexit 3\n".write(toFile: src + "/postbuild.sh", atomically: false, encoding: .utf8)
        XCTAssertEqual(sb.dkms("add", "pb/1.0").status, 0)
        r = sb.dkms("build", "pb/1.0", "-k", k)
        XCTAssertNotEqual(r.status, 0, r.all)
        XCTAssertTrue(r.all.contains("The post_build script failed"), r.all)
        XCTAssertEqual(listing(), ["log", "module", "partial.h"])
        XCTAssertEqual(sb.dkms("unbuild", "pb/1.0", "-k", k).status, 0)
        r = sb.dkms("build", "pb/1.0", "-k", k)
        XCTAssertTrue(r.all.contains("Running the post_build script"), "not a cache hit: \(r.all)")
    }
}
