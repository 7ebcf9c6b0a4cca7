#if canImport(Glibc)
import Glibc
#endif
import CHeidiShim
import HeidiCore

/// Why journald's copy of the heads could not be read.
public enum JournaldError: Error, CustomStringConvertible, Equatable, Sendable {
    /// `journalctl` could not be run or failed.
    case command(String)
    /// The input is not `journalctl -o json` output.
    case badOutput(line: Int, reason: String)

    public var description: String {
        switch self {
        case .command(let message): return "journalctl: \(message)"
        case .badOutput(let line, let reason): return "line \(line) is not journalctl -o json output: \(reason)"
        }
    }
}

/// journald's copy of the chain heads: the `HEIDI_SEQ` and `HEIDI_HASH` fields heidid sends with every event.
///
/// Entries whose trusted `_UID` is not the journal owner's are ignored: any local user can send journald entries
/// with any fields, so foreign entries could only raise false alarms, but they never count as evidence.
public struct JournaldHeads: Sendable, Equatable {
    /// One journald entry of a journal line.
    public struct Entry: Sendable, Equatable {
        public var seq: UInt64
        public var hash: Digest
        /// `__REALTIME_TIMESTAMP`: when journald received it (µs since the epoch); entries older than the first
        /// verified line belong to an earlier journal and are skipped.
        public var time: Int64
    }

    /// Entries sorted by seq.
    public private(set) var entries: [Entry]
    /// Entries skipped: malformed HEIDI fields or another user's.
    public private(set) var ignored: Int

    public init(entries: [Entry], ignored: Int = 0) {
        self.entries = entries.sorted { $0.seq < $1.seq }
        self.ignored = ignored
    }

    /// Parses `journalctl -o json` output (one object per line); entries without `HEIDI_SEQ` are not events and are
    /// skipped. With `trustedUID`, entries from other users are ignored.
    public static func parse(_ output: [UInt8], trustedUID: UInt32? = nil) throws(JournaldError) -> JournaldHeads {
        var entries: [Entry] = []
        var ignored = 0
        var number = 0
        for line in output.split(separator: 0x0a) {
            number += 1
            let value: JSONValue
            do { value = try StrictJSONParser.parse(line) } catch { throw .badOutput(line: number, reason: "\(error)") }
            guard case .object = value else { throw .badOutput(line: number, reason: "not a JSON object") }
            guard let seqField = value[JournaldField.seq] else { continue }
            if let trustedUID, value[JournaldField.uid]?.stringValue != String(trustedUID) {
                ignored += 1
                continue
            }
            guard let seqText = seqField.stringValue, let seq = Statement.number(Substring(seqText)),
                let hash = value[JournaldField.hash]?.stringValue.flatMap(Digest.init(hex:))
            else {
                ignored += 1
                continue
            }
            let time = value[JournaldField.realtime]?.stringValue.flatMap { Int64($0) } ?? Int64.max
            entries.append(Entry(seq: seq, hash: hash, time: time))
        }
        return JournaldHeads(entries: entries, ignored: ignored)
    }

    /// Runs `journalctl -o json` for heidid's entries (`SYSLOG_IDENTIFIER=heidid` plus `matches`), optionally on the
    /// journal files in `directory`, and returns its output.
    public static func query(directory: String?, matches: [String]) throws(JournaldError) -> [UInt8] {
        var argv = ["journalctl", "-o", "json", "--no-pager", "--output-fields=\(JournaldField.seq),\(JournaldField.hash),\(JournaldField.uid)"]
        if let directory { argv.append("--directory=\(directory)") }
        argv += ["SYSLOG_IDENTIFIER=\(JournaldField.daemonIdentifier)"] + matches
        let result = try CommandRunner.run(argv)
        guard result.status == 0 else {
            let message = String(decoding: result.stderr, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
            throw .command("exited with status \(result.status)\(message.isEmpty ? "" : ": \(message)")")
        }
        return result.stdout
    }
}

/// Runs a command to completion and collects its stdout and stderr (for `journalctl`).
enum CommandRunner {
    struct Output {
        var status: Int32
        var stdout: [UInt8]
        var stderr: [UInt8]
    }

    static func run(_ argv: [String]) throws(JournaldError) -> Output {
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        guard heidi_pipe_cloexec(&outPipe) == 0 else { throw .command("pipe: \(errnoDescription(errno))") }
        guard heidi_pipe_cloexec(&errPipe) == 0 else {
            close(outPipe[0]); close(outPipe[1])
            throw .command("pipe: \(errnoDescription(errno))")
        }
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArgs { free(pointer) } }
        var pid: pid_t = 0
        let spawned = heidi_spawn(argv[0], &cArgs, environ, nil, outPipe[1], errPipe[1], -1, &pid)
        close(outPipe[1])
        close(errPipe[1])
        defer { close(outPipe[0]); close(errPipe[0]) }
        guard spawned == 0 else { throw .command("cannot run \(argv[0]): \(errnoDescription(spawned))") }
        var out: [UInt8] = []
        var err: [UInt8] = []
        var fds = [pollfd(fd: outPipe[0], events: Int16(POLLIN), revents: 0), pollfd(fd: errPipe[0], events: Int16(POLLIN), revents: 0)]
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while fds.contains(where: { $0.fd >= 0 }) {
            if poll(&fds, nfds_t(fds.count), -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            for index in fds.indices where fds[index].fd >= 0 && fds[index].revents != 0 {
                let n = chunk.withUnsafeMutableBytes { read(fds[index].fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    if index == 0 { out += chunk[0..<n] } else { err += chunk[0..<n] }
                } else if n == 0 || errno != EINTR {
                    fds[index].fd = -1
                }
            }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = heidi_wifexited(status) != 0 ? heidi_wexitstatus(status) : 128 + heidi_wtermsig(status)
        return Output(status: code, stdout: out, stderr: err)
    }
}
