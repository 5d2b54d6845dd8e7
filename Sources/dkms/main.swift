import DKMSCore
import SafeFS
import Glibc

// umask 022 as dkms sets it: everything we create is readable, since
// builds may run as an unprivileged user.
umask(0o022)
// A build's scratch tmpfs is the supervisor's mount on the host: a SIGTERM or
// Ctrl-C during a build unmounts it before dkms dies of the signal.
ScratchMounts.installSignalHandlers()
let env = Dictionary(ProcessInfo_environment(), uniquingKeysWith: { a, _ in a })
exit(CLI.run(Array(CommandLine.arguments.dropFirst()), environment: env))

func ProcessInfo_environment() -> [(String, String)] {
    var result: [(String, String)] = []
    var p = environ
    while let entry = p.pointee {
        let s = String(cString: entry)
        if let eq = s.firstIndex(of: "=") { result.append((String(s[..<eq]), String(s[s.index(after: eq)...]))) }
        p += 1
    }
    return result
}
