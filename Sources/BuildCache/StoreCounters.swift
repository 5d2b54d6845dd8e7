import Glibc
import SafeFS

/// Persisted event counters: a fixed array of u64 in `stats/counters`, updated in place with
/// pread/pwrite under flock. In-place (not rename) keeps a bump to a few syscalls; a torn
/// update after a crash only skews statistics, never cache correctness.
struct StoreCounters {
    enum Field: Int, CaseIterable { case hits, misses, stores, corruptions, evictions }

    let path: String

    func bump(_ f: Field, by n: UInt64 = 1) throws {
        try update { $0[f.rawValue] &+= n }
    }

    func read() throws -> [UInt64] {
        var values = [UInt64](repeating: 0, count: Field.allCases.count)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { if errno == ENOENT { return values }; throw IOFailure("open", path) }
        defer { close(fd) }
        flock(fd, LOCK_SH)
        _ = values.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        return values
    }

    func reset() throws { try update { v in for i in v.indices { v[i] = 0 } } }

    private func update(_ body: (inout [UInt64]) -> Void) throws {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw IOFailure("open", path) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 { if errno != EINTR { throw IOFailure("flock", path) } }
        var values = [UInt64](repeating: 0, count: Field.allCases.count)
        _ = values.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }  // short read = zeros
        body(&values)
        let n = values.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        guard n == values.count * 8 else { throw IOFailure("pwrite", path) }
    }
}

extension CacheStore {
    var counters: StoreCounters { StoreCounters(path: root.appendingComponent("stats/counters")) }
}
