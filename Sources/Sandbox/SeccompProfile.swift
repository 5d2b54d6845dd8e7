// The on-disk seccomp format: a strict OCI runtime-spec `linux.seccomp` object
// (config-linux.md "Seccomp", schema/defs-linux.json), plus moby's per-rule `comment`.
// Research note §4: reject every other unknown key (moby's archMap/includes/excludes do not
// belong in our profiles) and read every number exactly as uint64.

import Foundation

public struct SeccompProfile: Equatable, Sendable {
    public enum Action: String, Sendable, CaseIterable {
        case kill = "SCMP_ACT_KILL"
        case killProcess = "SCMP_ACT_KILL_PROCESS"
        case killThread = "SCMP_ACT_KILL_THREAD"
        case trap = "SCMP_ACT_TRAP"
        case errno = "SCMP_ACT_ERRNO"
        case trace = "SCMP_ACT_TRACE"
        case allow = "SCMP_ACT_ALLOW"
        case log = "SCMP_ACT_LOG"
        case notify = "SCMP_ACT_NOTIFY"

        /// Actions that carry an errno / trace value.
        var takesErrno: Bool { self == .errno || self == .trace }
    }

    public enum Operator: String, Sendable, CaseIterable {
        case ne = "SCMP_CMP_NE"
        case lt = "SCMP_CMP_LT"
        case le = "SCMP_CMP_LE"
        case eq = "SCMP_CMP_EQ"
        case ge = "SCMP_CMP_GE"
        case gt = "SCMP_CMP_GT"
        case maskedEq = "SCMP_CMP_MASKED_EQ"
    }

    public struct Arg: Equatable, Sendable {
        public var index: UInt32
        /// For MASKED_EQ: the mask.
        public var value: UInt64
        /// For MASKED_EQ: the expected value after masking.
        public var valueTwo: UInt64
        public var op: Operator
        public init(index: UInt32, value: UInt64, valueTwo: UInt64 = 0, op: Operator) {
            self.index = index; self.value = value; self.valueTwo = valueTwo; self.op = op
        }
    }

    public struct Rule: Equatable, Sendable {
        public var names: [String]
        public var action: Action
        public var errnoRet: UInt32?
        public var args: [Arg]
        public var comment: String?
        public init(names: [String], action: Action, errnoRet: UInt32? = nil, args: [Arg] = [], comment: String? = nil) {
            self.names = names; self.action = action; self.errnoRet = errnoRet; self.args = args; self.comment = comment
        }
    }

    public var defaultAction: Action
    public var defaultErrnoRet: UInt32?
    public var architectures: [String]
    public var syscalls: [Rule]

    public init(defaultAction: Action, defaultErrnoRet: UInt32? = nil, architectures: [String] = [], syscalls: [Rule]) {
        self.defaultAction = defaultAction
        self.defaultErrnoRet = defaultErrnoRet
        self.architectures = architectures
        self.syscalls = syscalls
    }

    public static func load(path: String) throws -> SeccompProfile {
        try parse(SandboxError.contents(of: path))
    }

    public static func parse(_ data: Data) throws -> SeccompProfile {
        let root = try JSONObjectReader(JSONParser.parse(data), context: "seccomp",
                                        allowedKeys: ["defaultAction", "defaultErrnoRet", "architectures", "flags",
                                                      "syscalls", "comment"])
        guard let da = try root.string("defaultAction") else {
            throw SandboxError.invalidProfile("seccomp: missing defaultAction")
        }
        let defaultAction = try action(da, context: "seccomp.defaultAction")
        let defaultErrno = try root.uint64("defaultErrnoRet").map { try errnoValue($0, context: "seccomp.defaultErrnoRet") }
        if defaultErrno != nil, !defaultAction.takesErrno {
            // runtime-spec: "the runtime MUST fail" when defaultErrnoRet is given for such actions.
            throw SandboxError.invalidProfile("seccomp: defaultErrnoRet given with \(da), which takes no errno")
        }
        if let flags = try root.strings("flags"), !flags.isEmpty {
            throw SandboxError.invalidProfile("seccomp: flags \(flags) are not supported")
        }
        let arches = try root.strings("architectures") ?? []
        var rules: [Rule] = []
        for (i, v) in (try root.array("syscalls") ?? []).enumerated() {
            let ctx = "seccomp.syscalls[\(i)]"
            let r = try JSONObjectReader(v, context: ctx, allowedKeys: ["names", "action", "errnoRet", "args", "comment"])
            guard let names = try r.strings("names"), !names.isEmpty else {
                throw SandboxError.invalidProfile("\(ctx): names must be a non-empty array")
            }
            guard let a = try r.string("action") else { throw SandboxError.invalidProfile("\(ctx): missing action") }
            let act = try action(a, context: "\(ctx).action")
            let en = try r.uint64("errnoRet").map { try errnoValue($0, context: "\(ctx).errnoRet") }
            if en != nil, !act.takesErrno {
                throw SandboxError.invalidProfile("\(ctx): errnoRet given with \(a), which takes no errno")
            }
            var args: [Arg] = []
            for (j, av) in (try r.array("args") ?? []).enumerated() {
                let actx = "\(ctx).args[\(j)]"
                let ar = try JSONObjectReader(av, context: actx, allowedKeys: ["index", "value", "valueTwo", "op"])
                guard let idx = try ar.uint64("index") else { throw SandboxError.invalidProfile("\(actx): missing index") }
                guard idx < 6 else { throw SandboxError.invalidProfile("\(actx): index \(idx) out of range 0...5") }
                guard let value = try ar.uint64("value") else { throw SandboxError.invalidProfile("\(actx): missing value") }
                guard let opName = try ar.string("op") else { throw SandboxError.invalidProfile("\(actx): missing op") }
                guard let op = Operator(rawValue: opName) else {
                    throw SandboxError.invalidProfile("\(actx): unknown op \(opName)")
                }
                args.append(Arg(index: UInt32(idx), value: value, valueTwo: try ar.uint64("valueTwo") ?? 0, op: op))
            }
            rules.append(Rule(names: names, action: act, errnoRet: en, args: args, comment: try r.string("comment")))
        }
        return SeccompProfile(defaultAction: defaultAction, defaultErrnoRet: defaultErrno, architectures: arches, syscalls: rules)
    }

    private static func action(_ s: String, context: String) throws -> Action {
        guard let a = Action(rawValue: s) else { throw SandboxError.invalidProfile("\(context): unknown action \(s)") }
        return a
    }

    private static func errnoValue(_ v: UInt64, context: String) throws -> UInt32 {
        guard v <= 4095 else { throw SandboxError.invalidProfile("\(context): errno \(v) out of range") }
        return UInt32(v)
    }
}
