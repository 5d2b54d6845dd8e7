import Foundation

/// The command line (see main.swift for the usage).
struct Options {
    var command = ""
    var dkmsTree = ""
    var installTree = ""
    var module = ""
    var version = ""
    var kernels: [String] = []
    var arch = "x86_64"
    /// Module name -> where its original lives below the kernel directory (dkms.conf's
    /// DEST_MODULE_LOCATION); an original is archived only for the names given here.
    var origLocations: [String: String] = [:]
    var seconds = 1.0
    var lockCommand = "installer-crash-helper"
    var rounds = 10
    var seed: UInt64 = 1
    var pristine: String?

    var trees: HelperTrees {
        HelperTrees(dkms: dkmsTree, install: installTree, module: module, arch: arch, origLocations: origLocations)
    }
}

func usage(_ msg: String) -> Never {
    FileHandle.standardError.write("installer-crash-helper: \(msg)\n".data(using: .utf8)!)
    exit(2)
}

func parse(_ args: [String]) -> Options {
    var o = Options()
    guard let c = args.first else { usage("missing command") }
    o.command = c
    var it = args.dropFirst().makeIterator()
    func next(_ flag: String) -> String {
        guard let v = it.next() else { usage("\(flag) needs a value") }
        return v
    }
    while let a = it.next() {
        switch a {
        case "--dkms-tree": o.dkmsTree = next(a)
        case "--install-tree": o.installTree = next(a)
        case "-m": o.module = next(a)
        case "-v": o.version = next(a)
        case "-k": o.kernels.append(next(a))
        case "-a": o.arch = next(a)
        case "--orig":
            let kv = next(a).split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { usage("--orig NAME=LOCATION") }
            o.origLocations[kv[0]] = kv[1]
        case "--seconds": o.seconds = Double(next(a)) ?? 1
        case "--command": o.lockCommand = next(a)
        case "--rounds": o.rounds = Int(next(a)) ?? 10
        case "--seed": o.seed = UInt64(next(a)) ?? 1
        case "--pristine": o.pristine = next(a)
        default: usage("unknown argument \(a)")
        }
    }
    if o.dkmsTree.isEmpty { usage("--dkms-tree is required") }
    return o
}
