import Glibc
import ModuleTools

/// The settings sheet: every setting a run takes from framework.conf, the
/// command line, the environment and the defaults, resolved once when the
/// run starts and handed down in the Context. framework.conf is looked up by
/// key here and nowhere else, so each precedence rule is written once:
/// the command line over framework.conf (its drop-ins read after it, later
/// files winning) over the environment where dkms honours it, over the default.
///
/// Values that name a kernel keep `$kernelver` for the caller to substitute
/// when it knows the kernel, as dkms reads them then.
public struct Settings: Equatable {
    /// Where framework.conf and the per-module overrides are: $DKMS_CONFIG_DIR, else /etc/dkms.
    public var configDir: String

    /// --dkmstree / --sourcetree / --installtree, dkms_tree / source_tree /
    /// install_tree, /var/lib/dkms, /usr/src, /lib/modules; without a trailing slash.
    public var dkmsTree: String
    public var sourceTree: String
    public var installTree: String

    /// make's parallel jobs: -j, parallel_jobs in framework.conf, then
    /// $parallel_jobs (dkms takes it from its environment too), then the CPUs online.
    public var jobs: Int

    /// The build cache (and the replays kept beside it): off with --no-cache or cache=no.
    public var useCache: Bool
    /// cache_dir; nil stands for the default inside the DKMS tree (`cacheDir(treeRoot:)`).
    public var cacheDirSetting: String?
    /// cache_max_size for `cache prune` without a size on the command line.
    public var cacheMaxSize: String

    /// try_sign_modules=false, or sign_modules=no (our older spelling of it), turns signing off.
    public var signModules: Bool
    /// mok_signing_key, mok_certificate, sign_file; nil: the defaults, which
    /// depend on the tree and the kernel (ModuleSigning.settings).
    public var mokSigningKey: String?
    public var mokCertificate: String?
    public var signFile: String?
    /// compress_module; nil (or a name we do not know) compresses as the target kernel does.
    public var compressModule: ModuleCompression?
    /// post_transaction: the administrator's command after a state-changing action.
    public var postTransaction: String?

    /// Why module code runs unconfined (--no-sandbox, else sandbox=no), said
    /// in the warning; nil when it runs in the sandbox.
    public var sandboxOffBy: String?
    /// --sandbox-profile, sandbox_profile, "kbuild": the policy builds run under.
    public var sandboxProfile: String
    /// sandbox_conf_profile, "conf-eval": the policy dkms.conf is evaluated under.
    public var sandboxConfProfile: String
    /// sandbox_profiles_dir: looked in before the installed profiles.
    public var sandboxProfilesDir: String?

    /// The one place framework.conf's keys are read.
    public init(framework f: FrameworkConfig, invocation inv: Invocation, environment: [String: String],
                configDir: String, cpus: Int) {
        self.configDir = configDir
        dkmsTree = Settings.normalize(inv.dkmsTree ?? f["dkms_tree"] ?? "/var/lib/dkms")
        sourceTree = Settings.normalize(inv.sourceTree ?? f["source_tree"] ?? "/usr/src")
        installTree = Settings.normalize(inv.installTree ?? f["install_tree"] ?? "/lib/modules")
        jobs = inv.jobs ?? f["parallel_jobs"].flatMap(Int.init) ?? environment["parallel_jobs"].flatMap(Int.init) ?? max(cpus, 1)
        useCache = !inv.noCache && f["cache"] != "no"
        cacheDirSetting = f["cache_dir"]
        cacheMaxSize = f["cache_max_size"] ?? "2G"
        signModules = !(f["try_sign_modules"] == "false" || f["sign_modules"] == "no")
        mokSigningKey = f["mok_signing_key"]
        mokCertificate = f["mok_certificate"]
        signFile = f["sign_file"]
        compressModule = f["compress_module"].flatMap(ModuleCompression.init(name:))
        postTransaction = f["post_transaction"]
        sandboxOffBy = inv.noSandbox ? "--no-sandbox" : f["sandbox"] == "no" ? "sandbox=no in framework.conf" : nil
        sandboxProfile = inv.sandboxProfile ?? f["sandbox_profile"] ?? "kbuild"
        sandboxConfProfile = f["sandbox_conf_profile"] ?? "conf-eval"
        sandboxProfilesDir = f["sandbox_profiles_dir"]
    }

    /// Reads framework.conf and its drop-ins from $DKMS_CONFIG_DIR (or /etc/dkms).
    public static func load(invocation: Invocation, environment: [String: String]) -> Settings {
        let dir = environment["DKMS_CONFIG_DIR"] ?? "/etc/dkms"
        return Settings(framework: FrameworkConfig.load(dir: dir), invocation: invocation, environment: environment,
                        configDir: dir, cpus: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// cache_dir, else inside the DKMS tree (a dot-directory, invisible to
    /// dkms's globs). The tree is the run's, which `dkms verify` replaces
    /// with a scratch one.
    public func cacheDir(treeRoot: String) -> String { cacheDirSetting ?? treeRoot + "/.cache" }

    static func normalize(_ p: String) -> String {
        var s = p
        while s.count > 1 && s.hasSuffix("/") { s.removeLast() }
        return s
    }
}
