extension DKMSError {
    /// dkms's exit codes by meaning, named after what dkms v3.4.3 dies with
    /// them for (the table at the top of its dkms.in). dkms numbers each
    /// check rather than each kind of failure, so one number has several
    /// names here: each call site says which of dkms's cases it is, and the
    /// number, which scripts and hooks test, stays dkms's. Comparing codes
    /// compares the numbers.
    public struct Code: RawRepresentable, Hashable, CustomStringConvertible {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public var description: String { String(rawValue) }

        /// 0: the run goes on (an error printed but not fatal, as dkms's
        /// "is broken" lines in status and autoinstall).
        public static let success = Code(rawValue: 0)
        /// 1: anything without a code of its own (root, write access,
        /// temporary files, missing module arguments, 1:1 kernel/arch).
        public static let failure = Code(rawValue: 1)

        /// 2: unknown option, a kernel with --all, templatekernel equal to the kernel.
        public static let badArgument = Code(rawValue: 2)
        /// 2: add_module's "Could not find module source directory."
        public static let missingSource = Code(rawValue: 2)
        /// 2: load_tarball's "... does not exist."
        public static let missingArchive = Code(rawValue: 2)

        /// 3: "You cannot specify an arch and also specify --all".
        public static let archWithAll = Code(rawValue: 3)
        /// 3: "Tarball does not appear to be a correctly formed DKMS archive."
        public static let malformedArchive = Code(rawValue: 3)
        /// 3: "The module/version combo: ... is not located in the DKMS tree."
        public static let notInTree = Code(rawValue: 3)
        /// 3: added twice, or built again ("has already been built on").
        public static let alreadyInTree = Code(rawValue: 3)

        /// 4: "Cannot specify more than one action."
        public static let multipleActions = Code(rawValue: 4)
        /// 4: "System is missing os-release file."
        public static let missingOSRelease = Code(rawValue: 4)
        /// 4: "Could not locate dkms.conf file."
        public static let missingConf = Code(rawValue: 4)
        /// 4: an action that takes one kernel given several, or none.
        public static let wrongKernelCount = Code(rawValue: 4)
        /// 4: "... is broken!" (source directory or its link missing).
        public static let broken = Code(rawValue: 4)

        /// 5: "The action ... does not support the --all parameter."
        public static let allUnsupported = Code(rawValue: 5)
        /// 5: a patch named in dkms.conf with '..' or not found.
        public static let badPatch = Code(rawValue: 5)
        /// 5: "This module/version combo is already installed for kernel ..."
        public static let alreadyInstalled = Code(rawValue: 5)

        /// 6: "Application of patch ... failed."
        public static let patchFailed = Code(rawValue: 6)
        /// 6: install's failures (no such kernel, missing module, aborted, depmod).
        public static let installFailed = Code(rawValue: 6)
        /// 6: mktarball: nothing built, or the tarball not made.
        public static let tarballFailed = Code(rawValue: 6)

        /// 7: "No valid dkms.conf in dkms_source_tree or dkms_binaries_only."
        public static let invalidTarball = Code(rawValue: 7)
        /// 7: "Build of ... failed for: ..." (a built module missing or unusable).
        public static let badBuildOutput = Code(rawValue: 7)

        /// 8: load_tarball's "... is already added!"
        public static let alreadyAdded = Code(rawValue: 8)
        /// 8: "Bad conf file."
        public static let badConf = Code(rawValue: 8)
        /// 8: "The directory ... does not appear to have module source located within it."
        public static let noModuleSource = Code(rawValue: 8)

        /// 9: add_source_tree's "... must contain a dkms.conf file!"
        public static let badSourceTree = Code(rawValue: 9)
        /// 9: "Missing write permissions for ..."
        public static let notWritable = Code(rawValue: 9)
        /// 9: "Unable to install ... using rpm."
        public static let rpmUnsupported = Code(rawValue: 9)

        /// 10: "Bad return status for module build on kernel: ..."
        public static let buildFailed = Code(rawValue: 10)
        /// 11: "One or more modules failed to install during autoinstall."
        public static let autoinstallFailed = Code(rawValue: 11)
        /// 13: "Aborting build of module ... due to missing BUILD_DEPENDS"
        public static let missingBuildDepends = Code(rawValue: 13)
        /// 14: "dkms kernel_preinst/prerm for kernel ... failed for module(s) ..."
        public static let kernelHookFailed = Code(rawValue: 14)
        /// 21: "Your kernel headers for kernel ... cannot be found ..."
        public static let missingHeaders = Code(rawValue: 21)
        /// 77: a BUILD_EXCLUSIVE directive excludes the target (a skip, not a failure).
        public static let buildExclusiveSkip = Code(rawValue: 77)
        /// 101: "pre_install failed, aborting install."
        public static let preInstallFailed = Code(rawValue: 101)
    }
}
