public enum DKMSVersion {
    /// The upstream release whose behaviour (output, exit codes, make.log) we follow.
    public static let string = "dkms-3.4.3"
}
