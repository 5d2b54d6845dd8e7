import XCTest
@testable import DKMSCore

/// Scripts and hooks test dkms's exit codes by number: a renamed or
/// re-numbered code would break them silently, so each name is pinned to
/// the number dkms v3.4.3 uses for that case.
final class ExitCodeTests: XCTestCase {
    func testNamesCarryDkmsNumbers() {
        let expected: [(DKMSError.Code, Int32)] = [
            (.success, 0), (.failure, 1),
            (.badArgument, 2), (.missingSource, 2), (.missingArchive, 2),
            (.archWithAll, 3), (.malformedArchive, 3), (.notInTree, 3), (.alreadyInTree, 3),
            (.multipleActions, 4), (.missingOSRelease, 4), (.missingConf, 4), (.wrongKernelCount, 4), (.broken, 4),
            (.allUnsupported, 5), (.badPatch, 5), (.alreadyInstalled, 5),
            (.patchFailed, 6), (.installFailed, 6), (.tarballFailed, 6),
            (.invalidTarball, 7), (.badBuildOutput, 7),
            (.alreadyAdded, 8), (.badConf, 8), (.noModuleSource, 8),
            (.badSourceTree, 9), (.notWritable, 9), (.rpmUnsupported, 9),
            (.buildFailed, 10), (.autoinstallFailed, 11), (.missingBuildDepends, 13), (.kernelHookFailed, 14),
            (.missingHeaders, 21), (.buildExclusiveSkip, 77), (.preInstallFailed, 101),
        ]
        for (code, number) in expected { XCTAssertEqual(code.rawValue, number, "\(code)") }
    }

    func testErrorExitsWithItsCode() {
        XCTAssertEqual(DKMSError(.buildExclusiveSkip, lines: []).exitCode, 77)
        // Aliases of one number are one code: a caller testing for a skip or
        // a usage error matches whichever of dkms's cases raised it.
        XCTAssertEqual(DKMSError.Code.badArgument, .missingSource)
        XCTAssertNotEqual(DKMSError.Code.badConf, .buildFailed)
    }
}
