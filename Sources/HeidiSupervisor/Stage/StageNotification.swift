import HeidiCore

/// One datagram from a stage's progress channel (`HEIDI_NOTIFY_SOCKET`), parsed. The format is sd_notify's:
/// newline-separated `KEY=VALUE` assignments. Unknown keys are ignored, like systemd does.
///
/// - `STATUS=text`: a one-line progress description (shown in `heidictl status` and systemd's status line).
/// - `X_HEIDI_COUNTERS={json}`, `X_HEIDI_USAGE={json}`: a JSON object of numbers, *increments* since the sender's
///   previous datagram; the daemon adds them up into the stage's `stage_end` `counters_delta`/`usage_delta`.
/// - `X_HEIDI_SCALARS={json}`: training scalars at a step (`{"step":120,"loss":0.41}`), kept as a downsampled series
///   for the dashboard's curves (HeidiCore's `ScalarSeries`).
/// - `READY=1`: the stage reports it is up (shown in status).
/// - `WATCHDOG=1`: a keep-alive for stages configured with `watchdog:`; `WATCHDOG=trigger` declares itself hung.
public struct StageNotification: Sendable, Equatable {
    public var status: String?
    public var counters: [String: Double] = [:]
    public var usage: [String: Double] = [:]
    /// `X_HEIDI_SCALARS`: absolute values at a step (not increments).
    public var scalars: [String: Double] = [:]
    public var ready = false
    public var watchdogPing = false
    public var watchdogTrigger = false
    /// What was wrong with the datagram, for the daemon's log (the rest of it still applies).
    public var problems: [String] = []

    /// Longest `STATUS=` kept, in bytes (longer text is cut at a character boundary and marked with `…`).
    public static let maxStatusBytes = 256
    /// Most keys one counters or usage object may carry.
    public static let maxKeysPerObject = 64

    public init() {}

    /// Parses one datagram. Never fails: malformed parts are skipped and described in `problems`.
    public static func parse(_ bytes: [UInt8]) -> StageNotification {
        var notification = StageNotification()
        for rawLine in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            guard let equals = rawLine.firstIndex(of: UInt8(ascii: "=")) else {
                notification.problems.append("a line without '=' was ignored")
                continue
            }
            let key = String(decoding: rawLine[rawLine.startIndex..<equals], as: UTF8.self)
            let value = Array(rawLine[(equals + 1)...])
            switch key {
            case "STATUS": notification.status = statusText(value)
            case "X_HEIDI_COUNTERS": notification.counters = numbers(value, key, &notification.problems)
            case "X_HEIDI_USAGE": notification.usage = numbers(value, key, &notification.problems)
            case "X_HEIDI_SCALARS": notification.scalars = numbers(value, key, &notification.problems)
            case "READY": notification.ready = value == Array("1".utf8)
            case "WATCHDOG":
                if value == Array("1".utf8) { notification.watchdogPing = true }
                if value == Array("trigger".utf8) { notification.watchdogTrigger = true }
            default: continue
            }
        }
        return notification
    }

    /// Printable, redacted, bounded: control characters become spaces, secrets are masked.
    static func statusText(_ value: [UInt8]) -> String {
        let decoded = String(decoding: value, as: UTF8.self)
        var text = String(
            String.UnicodeScalarView(
                decoded.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : $0 }
            )
        )
        text = Redactor.redact(text)
        guard text.utf8.count > maxStatusBytes else { return text }
        var cut = ""
        for character in text {
            if cut.utf8.count + character.utf8.count > maxStatusBytes - 3 { break }
            cut.append(character)
        }
        return cut + "…"
    }

    /// A flat JSON object of finite numbers with short, safe keys; anything else is reported and dropped.
    static func numbers(_ value: [UInt8], _ key: String, _ problems: inout [String]) -> [String: Double] {
        let parsed: JSONValue
        do { parsed = try StrictJSONParser.parse(value) } catch {
            problems.append("\(key) is not valid JSON (\(error))")
            return [:]
        }
        guard case .object(let members) = parsed else {
            problems.append("\(key) must be a JSON object of numbers")
            return [:]
        }
        var result: [String: Double] = [:]
        for (name, member) in members {
            guard result.count < maxKeysPerObject else {
                problems.append("\(key) has more than \(maxKeysPerObject) keys; the rest were ignored")
                break
            }
            guard isValidName(name) else {
                problems.append("\(key) key \(JSONText.quoted(String(name.prefix(70)))) is not [A-Za-z0-9_.-]{1,64}")
                continue
            }
            guard case .number(let literal) = member, let number = Double(literal), number.isFinite else {
                problems.append("\(key).\(name) is not a number")
                continue
            }
            result[name, default: 0] += number
        }
        return result
    }

    static func isValidName(_ name: String) -> Bool {
        guard (1...64).contains(name.utf8.count) else { return false }
        return name.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
                || byte == UInt8(ascii: ".")
                || byte == UInt8(ascii: "-")
        }
    }
}

/// What a stage has reported on its progress channel so far.
public struct StageProgress: Sendable, Equatable {
    /// The last `STATUS=` text.
    public var status: String?
    /// Sums of every `X_HEIDI_COUNTERS` increment.
    public var counters: [String: Double] = [:]
    /// Sums of every `X_HEIDI_USAGE` increment.
    public var usage: [String: Double] = [:]
    /// `READY=1` was received.
    public var ready = false
    /// `X_HEIDI_SCALARS` reports, downsampled and bounded.
    public var scalars = ScalarSeries()
    /// Datagrams accepted from the stage's own processes.
    public var messages = 0
    /// Datagrams refused: from a process outside the stage, another user, or without credentials.
    public var refused = 0
    /// Most distinct counter (and usage) names a stage may accumulate, so a runaway sender cannot grow the daemon.
    public static let maxNames = 256

    public init() {}

    /// Adds one datagram. Returns the problems to log (names beyond the cap, malformed parts).
    @discardableResult
    public mutating func apply(_ notification: StageNotification) -> [String] {
        messages += 1
        var problems = notification.problems
        if let status = notification.status { self.status = status }
        if notification.ready { ready = true }
        if !notification.scalars.isEmpty, let problem = scalars.add(notification.scalars) { problems.append(problem) }
        Self.accumulate(notification.counters, into: &counters, "X_HEIDI_COUNTERS", &problems)
        Self.accumulate(notification.usage, into: &usage, "X_HEIDI_USAGE", &problems)
        return problems
    }

    private static func accumulate(
        _ increments: [String: Double],
        into totals: inout [String: Double],
        _ key: String,
        _ problems: inout [String]
    ) {
        for (name, value) in increments {
            if totals[name] == nil && totals.count >= maxNames {
                problems.append("\(key): more than \(maxNames) names; \(name) was ignored")
                continue
            }
            let sum = totals[name, default: 0] + value
            guard sum.isFinite else {
                problems.append(
                    "\(key): the sum of \(name) left the range of finite numbers; the increment was ignored"
                )
                continue
            }
            totals[name] = sum
        }
    }
}
