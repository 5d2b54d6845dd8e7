import XCTest
import Foundation
import TestSupport

/// Debian and Ubuntu split a kernel's headers into the flavour's objtree (`<k>/build`) and a
/// common srctree (`<k>/source`). zfs's dkms.conf asks for `${kernel_source_dir/%build/source}`
/// and its configure reads the kernel's own headers there (linux/miscdevice.h is only in the
/// common tree): the dkms.conf evaluation and the build must both see `<k>/source` beside the
/// `<k>/build` they are given, in an install tree outside /lib/modules as in /lib/modules.
final class HeaderSourceLinkTests: XCTestCase {
    var sb: TestTrees!
    override func setUp() { sb = TestTrees() }
    override func tearDown() { sb.cleanup() }

    func testConfAndBuildSeeTheCommonSourceTreeBesideBuild() throws {
        let fm = FileManager.default
        let split = Kernels.all.filter { (try? fm.destinationOfSymbolicLink(atPath: "/lib/modules/\($0)/source")) != nil }
        guard let k = split.first else { throw XCTSkip("no installed kernel has a /lib/modules/<k>/source link") }
        let src = sb.sourceTree + "/srcprobe-1"
        // The same test zfs's PRE_BUILD makes, at dkms.conf evaluation; the script then
        // checks, inside the build sandbox, that the path it was given holds the srctree.
        writeModule(at: src, name: "srcprobe", conf: """
        PACKAGE_NAME=srcprobe
        PACKAGE_VERSION=1
        PRE_BUILD="pre.sh $(if [ -e "${kernel_source_dir/%build/source}" ]; then echo "${kernel_source_dir/%build/source}"; else echo none; fi)"
        MAKE="make -C $kernel_source_dir M=$dkms_tree/srcprobe/1/build modules"
        """, extraFiles: [
            "pre.sh": """
            #!/bin/sh
            echo "source given: $1"
            test -f "$1/include/linux/module.h" && test -f "$1/Makefile"
            """,
        ])
        XCTAssertEqual(sb.dkms("add", "srcprobe/1").status, 0)
        let r = sb.dkms("build", "srcprobe/1", "-k", k)
        let log = (try? String(contentsOfFile: "\(sb.dkmsTree)/srcprobe/1/\(k)/x86_64/log/make.log")) ?? ""
        XCTAssertEqual(r.status, 0, r.all + log)
        XCTAssertTrue(r.stdout.contains("Running the pre_build script... done."), r.stdout)
        XCTAssertTrue(log.contains("source given: \(sb.installTree)/\(k)/source"), log)
    }
}
