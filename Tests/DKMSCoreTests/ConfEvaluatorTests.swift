import XCTest
@testable import DKMSCore

/// The forms real dkms.conf files use, each evaluated by real bash, each
/// with a bad-input twin whose error text is checked.
final class ConfEvaluatorTests: XCTestCase {
    func testScalarAndDefaultsForSingleModule() throws {
        let f = try ConfFixture("PACKAGE_NAME=hello\nPACKAGE_VERSION=1.2\nDEST_MODULE_LOCATION=/extra\n")
        defer { f.remove() }
        let c = try f.config()
        XCTAssertEqual(c.packageName, "hello")
        XCTAssertEqual(c.modules.map(\.builtName), ["hello"])
        XCTAssertEqual(c.modules[0].destName, "hello")
        XCTAssertEqual(c.modules[0].destLocation, "/updates/dkms")
        XCTAssertEqual(c.modules[0].declaredDestLocation, "/extra")
        XCTAssertTrue(c.modules[0].strip)
        XCTAssertEqual(c.makeCommand, "make -C \(f.kernelDir) M=/var/lib/dkms/m/1/build")
    }

    func testMissingNameAndVersionIsBadConf() throws {
        let f = try ConfFixture("# nothing here\n")
        defer { f.remove() }
        XCTAssertDKMSError(try f.config(), code: 8, contains: "No 'PACKAGE_NAME' directive specified.")
        XCTAssertDKMSError(try f.config(), code: 8, contains: "File: \(f.dir)/dkms.conf does not represent a valid dkms.conf file.")
    }

    func testMissingFileNamesThePath() throws {
        let f = try ConfFixture("")
        defer { f.remove() }
        unlink(f.dir + "/dkms.conf")
        XCTAssertDKMSError(try f.evaluate(), code: 4, contains: "File: \(f.dir)/dkms.conf does not exist.")
    }

    func testArraysSparseAndMultipleModules() throws {
        let f = try ConfFixture("""
        PACKAGE_NAME=multi
        PACKAGE_VERSION=2
        BUILT_MODULE_NAME[0]=a
        BUILT_MODULE_LOCATION[0]=src
        DEST_MODULE_LOCATION[0]=/kernel/drivers/misc
        BUILT_MODULE_NAME[2]=c
        DEST_MODULE_NAME[2]=c_renamed
        DEST_MODULE_LOCATION[2]=/updates
        STRIP[0]=no
        """)
        defer { f.remove() }
        // Index 1 is a gap: dkms sizes records by the highest index, so record #1 has no name.
        XCTAssertDKMSError(try f.config(override: nil), code: 8, contains: "No 'BUILT_MODULE_NAME' directive specified for record #1.")
        let raw = try f.evaluate().raw
        XCTAssertEqual(raw.values["BUILT_MODULE_NAME"], [0: "a", 2: "c"])
    }

    func testSparseArrayWithAllRecordsValid() throws {
        let f = try ConfFixture("""
        PACKAGE_NAME=multi; PACKAGE_VERSION=2
        BUILT_MODULE_NAME=(a b)
        BUILT_MODULE_LOCATION[1]=sub/dir
        DEST_MODULE_LOCATION=(/updates /updates)
        STRIP[0]=no
        """)
        defer { f.remove() }
        let c = try f.config()
        XCTAssertEqual(c.modules.map(\.builtName), ["a", "b"])
        XCTAssertEqual(c.modules[1].builtLocation, "sub/dir/")
        XCTAssertEqual(c.modules.map(\.strip), [false, false], "STRIP[1] empty inherits STRIP[0]")
    }

    func testBuiltNameEndingInKoIsRejected() throws {
        let f = try ConfFixture("PACKAGE_NAME=x\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=x.ko\nDEST_MODULE_LOCATION[0]=/updates\n")
        defer { f.remove() }
        XCTAssertDKMSError(try f.config(), code: 8, contains: "'BUILT_MODULE_NAME' directive ends in '.o' or '.ko' in record #0.")
    }

    func testBadDestLocationWhenNotOverridden() throws {
        let f = try ConfFixture("PACKAGE_NAME=x\nPACKAGE_VERSION=1\nDEST_MODULE_LOCATION[0]=/usr/lib\n")
        defer { f.remove() }
        XCTAssertDKMSError(try f.config(), code: 8, contains: "'/kernel', '/updates', or '/extra' in record #0.")
    }

    func testPathTraversalInNamesIsRefused() throws {
        let f = try ConfFixture("PACKAGE_NAME=x\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=../../etc/evil\nDEST_MODULE_LOCATION[0]=/updates/../../..\n")
        defer { f.remove() }
        XCTAssertDKMSError(try f.config(), code: 8, contains: "'BUILT_MODULE_NAME' directive contains")
        XCTAssertDKMSError(try f.config(), code: 8, contains: "'DEST_MODULE_LOCATION' directive contains '..'")
    }

    func testMakeScalarArrayAndMakeMatch() throws {
        let f = try ConfFixture("""
        PACKAGE_NAME=x; PACKAGE_VERSION=1
        MAKE="make all KVER=$kernelver"
        MAKE[1]="make legacy"
        MAKE_MATCH[1]="^5\\."
        MAKE[2]="make modern"
        MAKE_MATCH[2]="^6\\.1"
        """)
        defer { f.remove() }
        XCTAssertEqual(try f.config().makeCommand, "make modern")
        XCTAssertEqual(try f.config(version: "5.10.0-1-amd64").makeCommand, "make legacy")
        XCTAssertEqual(try f.config(version: "4.19.0").makeCommand, "make all KVER=4.19.0")
    }

    func testPatchMatchSelectsPerKernel() throws {
        let f = try ConfFixture("""
        PACKAGE_NAME=x; PACKAGE_VERSION=1
        PATCH[0]=always.patch
        PATCH[1]=old.patch; PATCH_MATCH[1]="^4\\."
        PATCH[2]=new.patch; PATCH_MATCH[2]="^6\\."
        """)
        defer { f.remove() }
        XCTAssertEqual(try f.config().patches, ["always.patch", "new.patch"])
        XCTAssertEqual(try f.config(version: "4.9.0").patches, ["always.patch", "old.patch"])
    }

    func testIfCommandSubstitutionArithmeticAndKernelConfig() throws {
        let f = try ConfFixture("""
        PACKAGE_NAME=cond
        PACKAGE_VERSION=$(echo 3.$((1+2)))
        DEST_MODULE_LOCATION[0]=/extra
        . "$kernel_source_dir/.config"
        if [ "$CONFIG_FOO" = y ]; then
            MAKE[0]="make FOO=1"
        else
            MAKE[0]="make FOO=0"
        fi
        major=${kernelver%%.*}
        if (( major >= 6 )); then BUILT_MODULE_NAME[0]=new_name; fi
        """)
        defer { f.remove() }
        let c = try f.config()
        XCTAssertEqual(c.packageVersion, "3.3")
        XCTAssertEqual(c.makeCommand, "make FOO=1")
        XCTAssertEqual(c.modules[0].builtName, "new_name")
    }

    func testBashSourceFindsSiblingFiles() throws {
        let f = try ConfFixture("""
        . "$(dirname "$BASH_SOURCE")/version.sh"
        PACKAGE_NAME=lttng
        """, extraFiles: ["version.sh": "PACKAGE_VERSION=2.13.9\n"])
        defer { f.remove() }
        XCTAssertEqual(try f.config().packageVersion, "2.13.9")
    }

    func testCRLFFileIsRead() throws {
        let f = try ConfFixture("PACKAGE_NAME=\"dos\"\r\nPACKAGE_VERSION=\"1.0\"\r\nBUILT_MODULE_NAME[0]=\"dos\"\r\nDEST_MODULE_LOCATION[0]=\"/extra\"\r\n")
        defer { f.remove() }
        let c = try f.config()
        XCTAssertEqual(c.packageName, "dos")
        XCTAssertEqual(c.packageVersion, "1.0")
    }

    /// dkms echoes each value back unquoted (safe_source): blanks and
    /// newlines collapse to single spaces, quotes stay.
    func testValuesAreWordSplitAsDkmsReadsThemBack() throws {
        let f = try ConfFixture("PACKAGE_NAME=x\nPACKAGE_VERSION=1\nPOST_INSTALL=$'  a \"b\"\\n\\tc  '\n")
        defer { f.remove() }
        XCTAssertEqual(try f.config().postInstall, "a \"b\" c")
    }

    /// zfs-dkms writes PRE_BUILD over many lines, with command substitutions.
    func testMultiLineDirectiveBecomesOneCommand() throws {
        let f = try ConfFixture("""
        PACKAGE_NAME=zfs
        PACKAGE_VERSION=2.1.11
        PRE_BUILD="configure
          --prefix=/usr
          --with-linux=$(
            echo "${kernel_source_dir}"
          )
          --with-linux-obj="${kernel_source_dir}"
        "
        """)
        defer { f.remove() }
        XCTAssertEqual(try f.config().preBuild,
                       "configure --prefix=/usr --with-linux=\(f.kernelDir) --with-linux-obj=\(f.kernelDir)")
    }

    func testConfThatExitsIsAnError() throws {
        let f = try ConfFixture("PACKAGE_NAME=x\nexit 3\n")
        defer { f.remove() }
        XCTAssertDKMSError(try f.evaluate(), code: 8, contains: "evaluation did not complete")
    }

    func testFunctionShadowingBuiltinsCannotForgeValues() throws {
        let f = try ConfFixture("PACKAGE_NAME=x\nPACKAGE_VERSION=1\nprintf() { :; }\ndeclare() { :; }\nset -u\n")
        defer { f.remove() }
        XCTAssertEqual(try f.config().packageName, "x")
    }

    func testSyntaxErrorIsReportedButEarlierValuesKept() throws {
        let f = try ConfFixture("PACKAGE_NAME=x\nPACKAGE_VERSION=1\nif then fi\n")
        defer { f.remove() }
        let e = try f.evaluate()
        XCTAssertTrue(e.diagnostics.contains("syntax error"), e.diagnostics)
        XCTAssertEqual(e.raw.scalar("PACKAGE_NAME"), "x")
    }

    func testBuildExclusiveKernelArchAndRange() throws {
        let f = try ConfFixture("""
        PACKAGE_NAME=x; PACKAGE_VERSION=1
        BUILT_MODULE_NAME=x; DEST_MODULE_LOCATION=/extra
        BUILD_EXCLUSIVE_KERNEL="^6\\."
        BUILD_EXCLUSIVE_ARCH="x86_64|aarch64"
        BUILD_EXCLUSIVE_KERNEL_MIN="6.0"
        BUILD_EXCLUSIVE_KERNEL_MAX="6.5.99"
        """)
        defer { f.remove() }
        XCTAssertNil(try f.config().buildExclusion)
        XCTAssertEqual(try f.config(version: "5.10.0").buildExclusion, "BUILD_EXCLUSIVE_KERNEL")
        XCTAssertEqual(try f.config(arch: "ppc64le").buildExclusion, "BUILD_EXCLUSIVE_ARCH")
        XCTAssertEqual(try f.config(version: "6.8.0").buildExclusion, "BUILD_EXCLUSIVE_KERNEL_MAX")
    }

    func testBuildExclusiveConfigWithNegation() throws {
        let ok = try ConfFixture("PACKAGE_NAME=x; PACKAGE_VERSION=1\nBUILT_MODULE_NAME=x\nDEST_MODULE_LOCATION=/extra\nBUILD_EXCLUSIVE_CONFIG=\"CONFIG_FOO CONFIG_BAR !CONFIG_BAZ\"\n")
        defer { ok.remove() }
        XCTAssertNil(try ok.config().buildExclusion)
        let bad = try ConfFixture("PACKAGE_NAME=x; PACKAGE_VERSION=1\nBUILT_MODULE_NAME=x\nDEST_MODULE_LOCATION=/extra\nBUILD_EXCLUSIVE_CONFIG=\"CONFIG_FOO !CONFIG_BAR\"\n")
        defer { bad.remove() }
        XCTAssertEqual(try bad.config().buildExclusion, "BUILD_EXCLUSIVE_CONFIG")
        // Zero modules are never excluded (dkms 3.4 only tests the records there are).
        let none = try ConfFixture("PACKAGE_NAME=x; PACKAGE_VERSION=1\nBUILD_EXCLUSIVE_CONFIG=\"CONFIG_FOO !CONFIG_BAR\"\n")
        defer { none.remove() }
        XCTAssertNil(try none.config().buildExclusion)
    }

    /// dkms 3.4's per-module BUILD_EXCLUSIVE_*[i]: a record left out is not
    /// built; the build is excluded only when every record is.
    func testPerModuleBuildExclusive() throws {
        let f = try ConfFixture("""
        PACKAGE_NAME=x; PACKAGE_VERSION=1
        BUILT_MODULE_NAME=(one two); DEST_MODULE_LOCATION=(/extra /extra)
        BUILD_EXCLUSIVE_CONFIG[0]="CONFIG_FOO !CONFIG_BAZ"
        BUILD_EXCLUSIVE_CONFIG[1]="!CONFIG_FOO"
        """)
        defer { f.remove() }
        let c = try f.config()
        XCTAssertEqual(c.modules.map(\.builtName), ["one"])
        XCTAssertEqual(c.declaredModules.map(\.builtName), ["one", "two"])
        XCTAssertNil(c.buildExclusion)
        XCTAssertTrue(c.hasExclusiveDirectives)
        let all = try ConfFixture("PACKAGE_NAME=x; PACKAGE_VERSION=1\nBUILT_MODULE_NAME=(one two)\nDEST_MODULE_LOCATION=(/extra /extra)\n"
                                  + "BUILD_EXCLUSIVE_KERNEL_MAX[1]=5.0\nOBSOLETE_BY=5.0\n")
        defer { all.remove() }
        // OBSOLETE_BY is no global maximum here (a per-module one is set): only record 1 is left out.
        XCTAssertEqual(try all.config().modules.map(\.builtName), ["one"])
        let obsolete = try ConfFixture("PACKAGE_NAME=x; PACKAGE_VERSION=1\nBUILT_MODULE_NAME=x\nDEST_MODULE_LOCATION=/extra\nOBSOLETE_BY=5.0\n")
        defer { obsolete.remove() }
        XCTAssertEqual(try obsolete.config().buildExclusion, "BUILD_EXCLUSIVE_KERNEL_MAX")
    }

    func testDeprecatedDirectivesWarnWithThePath() throws {
        let f = try ConfFixture("PACKAGE_NAME=x; PACKAGE_VERSION=1\nREMAKE_INITRD=yes\nCLEAN=true\nOBSOLETE_BY=99.0\n")
        defer { f.remove() }
        let raw = try f.evaluate().raw
        XCTAssertEqual(ModuleConfigBuilder.deprecations(raw, confPath: f.dir + "/dkms.conf"),
                       ["REMAKE_INITRD (\(f.dir)/dkms.conf)",
                        "OBSOLETE_BY (\(f.dir)/dkms.conf): use BUILD_EXCLUSIVE_KERNEL_MAX instead"])
        let clean = try ConfFixture("PACKAGE_NAME=x; PACKAGE_VERSION=1\nCLEAN=\"make clean\"\n")
        defer { clean.remove() }
        XCTAssertEqual(ModuleConfigBuilder.deprecations(try clean.evaluate().raw, confPath: "c"), ["CLEAN (c)"])
    }

    /// dkms 3.4's read_conf: no arrays at all is zero modules; DEST_MODULE_LOCATION is
    /// required even where the distribution overrides it; yes/no directives are checked.
    func testZeroModulesAndDirectiveValues() throws {
        let zero = try ConfFixture("PACKAGE_NAME=x; PACKAGE_VERSION=1\n")
        defer { zero.remove() }
        let c = try zero.config()
        XCTAssertTrue(c.modules.isEmpty)
        XCTAssertEqual(ModuleConfigBuilder.strictFindings(c).warnings, ["dkms.conf: Warning! Zero modules specified."])
        let bad = try ConfFixture("PACKAGE_NAME=x; PACKAGE_VERSION=1\nBUILT_MODULE_NAME[1]=y\nDEST_MODULE_LOCATION[1]=/extra\nAUTOINSTALL=maybe\nBUILD_DEPENDS_REBUILD=No\n")
        defer { bad.remove() }
        XCTAssertThrowsError(try bad.config()) { e in
            XCTAssertEqual((e as? DKMSError)?.lines.dropFirst(2).map { $0 }, [
                "dkms.conf: Error! No 'BUILT_MODULE_NAME' directive specified for record #0.",
                "dkms.conf: Error! No 'DEST_MODULE_LOCATION' directive specified for record #0.",
                "dkms.conf: Error! Unsupported AUTOINSTALL value 'maybe'"])
        }
        let dup = try ConfFixture("PACKAGE_NAME=x; PACKAGE_VERSION=1\nBUILT_MODULE_NAME=(a a)\nDEST_MODULE_NAME=(b c)\nDEST_MODULE_LOCATION=(/extra /extra)\nBUILD_DEPENDS_REBUILD=yes\n")
        defer { dup.remove() }
        let d = try dup.config()
        XCTAssertTrue(d.rebuildOnDependencyUpdate)
        XCTAssertEqual(ModuleConfigBuilder.strictFindings(d).errors, ["dkms.conf: Error! Duplicate module 'a' in 'BUILT_MODULE_NAME[1]'."])
    }

    func testBuildDependsAndAutoinstall() throws {
        let f = try ConfFixture("PACKAGE_NAME=x; PACKAGE_VERSION=1\nBUILD_DEPENDS=(dep1 \"dep2 dep3\")\nAUTOINSTALL=yes\n")
        defer { f.remove() }
        let c = try f.config()
        XCTAssertEqual(c.buildDepends, ["dep1", "dep2", "dep3"])
        XCTAssertTrue(c.autoinstall)
    }
}
