import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// One row of `/proc/PID/stat`: what the supervisor needs to find and kill a process tree.
public struct ProcessInfo: Sendable, Equatable {
    public var pid: Int32
    public var parent: Int32
    public var group: Int32
    public var session: Int32
    /// `R`, `S`, `D`, `Z`, …
    public var state: Character
    /// Start time in clock ticks since boot: with the pid, it identifies a process across pid reuse.
    public var startTicks: UInt64

    public var isZombie: Bool { state == "Z" || state == "X" }
}

/// Reads the kernel's process table from `/proc`.
public enum ProcessTable {
    /// `/proc/PID/stat` parsed, or nil if the process is gone.
    public static func info(_ pid: Int32) -> ProcessInfo? {
        guard let text = readSmallFile("/proc/\(pid)/stat") else { return nil }
        // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] = state (3), [1] = ppid (4), [2] = pgrp (5), [3] = session (6), [19] = starttime (22)
        guard fields.count > 19, let state = fields[0].first, let parent = Int32(fields[1]),
            let group = Int32(fields[2]),
            let session = Int32(fields[3]), let start = UInt64(fields[19])
        else { return nil }
        return ProcessInfo(pid: pid, parent: parent, group: group, session: session, state: state, startTicks: start)
    }

    /// Every process visible in `/proc`.
    public static func all() -> [ProcessInfo] {
        ((try? FileSystem.entries(of: "/proc")) ?? []).compactMap { name in Int32(name).flatMap { info($0) } }
    }

    /// Every descendant of `ancestor` (children, grandchildren, …).
    public static func descendants(of ancestor: Int32, in table: [ProcessInfo]) -> [ProcessInfo] {
        var children: [Int32: [ProcessInfo]] = [:]
        for process in table { children[process.parent, default: []].append(process) }
        var result: [ProcessInfo] = []
        var queue = [ancestor]
        while let next = queue.popLast() {
            for child in children[next] ?? [] where child.pid != ancestor {
                result.append(child)
                queue.append(child.pid)
            }
        }
        return result
    }

    /// Whether `/proc/PID/environ` contains the exact entry `entry` (`NAME=value`).
    public static func environmentContains(_ pid: Int32, _ entry: String) -> Bool {
        guard let bytes = try? readBytes("/proc/\(pid)/environ", limit: 1 << 20) else { return false }
        let needle = Array(entry.utf8)
        return bytes.split(separator: 0, omittingEmptySubsequences: true).contains { $0.elementsEqual(needle) }
    }

    static func readSmallFile(_ path: String) -> String? {
        guard let bytes = try? readBytes(path, limit: 64 * 1024) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    struct ReadFailure: Error {}

    static func readBytes(_ path: String, limit: Int) throws(ReadFailure) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ReadFailure() }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while result.count < limit {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            result.append(contentsOf: buffer[0..<n])
        }
        return result
    }
}
