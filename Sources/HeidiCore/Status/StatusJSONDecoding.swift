/// Hand-written decoding of the status object, the counterpart of `jsonBytes()`: `heidictl status` reads every
/// answer with it. JSONDecoder costs a short-lived process more than the whole round trip to the daemon: its first
/// use looks up dozens of protocol conformances, and each lookup walks every conformance record of the static
/// binary (measured on the static release heidictl, `perf stat -r 200`: 1.59 ms CPU, 239 page faults, 3.86 ms wall
/// per `heidictl status` with JSONDecoder; 1.46 ms, 186, 2.94 ms with this; contrib/bench/README.md). Same rules
/// as the `Codable` decoding it replaces: every non-optional member must be present with its type, an optional one
/// may be missing or null, unknown members are ignored. A test holds both equal.
extension StatusSnapshot {
    public init(json bytes: some Collection<UInt8>) throws(StatusDecodingError) {
        let value: JSONValue
        do { value = try StrictJSONParser.parse(bytes) } catch {
            throw StatusDecodingError(path: "", reason: "\(error)")
        }
        let o = try StatusFields(value, path: "")
        self.init(
            version: try o.string("version"),
            pid: try o.integer("pid"),
            startedAt: try o.string("started_at"),
            state: try o.rawValue("state"),
            mode: try o.rawValue("mode"),
            runID: try o.optionalString("run_id"),
            round: try o.integer("round"),
            rounds: try o.integer("rounds"),
            stage: try o.optionalString("stage"),
            paused: try o.bool("paused"),
            pauseRequested: try o.bool("pause_requested"),
            trainNowPending: try o.bool("train_now_pending"),
            awaitingTrainNow: try o.bool("awaiting_train_now"),
            stopping: try o.bool("stopping"),
            child: try o.optionalObject("child").map { c throws(StatusDecodingError) in
                try ChildStatus(c)
            },
            lastError: try o.optionalObject("last_error").map { e throws(StatusDecodingError) in try PipelineFailure(e)
            },
            lastWarning: try o.optionalObject("last_warning").map { e throws(StatusDecodingError) in
                try PipelineFailure(e)
            },
            journal: try JournalHead(try o.object("journal")),
            supervision: try o.string("supervision"),
            updatedAt: try o.string("updated_at")
        )
        apiVersion = try o.integer("api_version")
    }
}

/// Why a status object could not be read: the member (`child.pid`) and what was wrong with it.
public struct StatusDecodingError: Error, Equatable, CustomStringConvertible, Sendable {
    public var path: String
    public var reason: String
    public var description: String { path.isEmpty ? reason : "\(path): \(reason)" }
}

extension ChildStatus {
    fileprivate init(_ c: StatusFields) throws(StatusDecodingError) {
        self.init(
            pid: try c.integer("pid"),
            pgid: try c.integer("pgid"),
            argv: try c.strings("argv"),
            startedAt: try c.string("started_at"),
            elapsedSeconds: try c.number("elapsed_s"),
            timeoutSeconds: try c.number("timeout_s"),
            status: try c.optionalString("status"),
            startTicks: try c.optionalInteger("start_ticks"),
            counters: try c.optionalNumbers("counters"),
            usage: try c.optionalNumbers("usage"),
            progress: try c.optionalObject("progress").map { p throws(StatusDecodingError) in
                ChildProgress(
                    done: try p.number("done"),
                    total: try p.optionalNumber("total"),
                    percent: try p.optionalNumber("percent"),
                    rate: try p.optionalNumber("rate"),
                    etaSeconds: try p.optionalNumber("eta_s")
                )
            },
            executor: try c.optionalStrings("executor")
        )
    }
}

extension PipelineFailure {
    fileprivate init(_ e: StatusFields) throws(StatusDecodingError) {
        self.init(
            stage: try e.optionalString("stage"),
            round: try e.integer("round"),
            message: try e.string("message"),
            exitCode: try e.optionalInteger("exit_code"),
            signal: try e.optionalInteger("signal"),
            at: try e.string("at")
        )
    }
}

extension JournalHead {
    fileprivate init(_ j: StatusFields) throws(StatusDecodingError) {
        self.init(
            path: try j.string("path"),
            seq: try j.integer("seq"),
            head: try j.string("head"),
            damage: try j.optionalString("damage")
        )
    }
}

/// Typed reads of one JSON object's members, each failure naming the member's path.
private struct StatusFields {
    /// The members in the document's order (keys are unique: the parser rejects duplicates). Searched, not put in
    /// a `[String: JSONValue]`: an object holds a few dozen members at most, and that dictionary type would be one
    /// more the Swift runtime instantiates in every `heidictl status` (see `HTTPFields` in heidictl).
    let members: [(key: String, value: JSONValue)]
    let path: String

    init(_ value: JSONValue, path: String) throws(StatusDecodingError) {
        guard case .object(let members) = value else {
            throw StatusDecodingError(path: path, reason: "expected an object")
        }
        self.members = members
        self.path = path
    }

    private func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    private func member(_ key: String) -> JSONValue? { members.first { $0.key == key }?.value }

    private func mismatch(_ key: String, _ expected: String) -> StatusDecodingError {
        StatusDecodingError(path: name(key), reason: member(key) == nil ? "missing" : "expected \(expected)")
    }

    /// The member, nil when missing or null.
    private func present(_ key: String) -> JSONValue? {
        guard let value = member(key), !value.isNull else { return nil }
        return value
    }

    func optionalString(_ key: String) throws(StatusDecodingError) -> String? {
        guard let value = present(key) else { return nil }
        guard case .string(let text) = value else { throw mismatch(key, "a string") }
        return text
    }

    func string(_ key: String) throws(StatusDecodingError) -> String {
        guard let text = try optionalString(key) else { throw mismatch(key, "a string") }
        return text
    }

    func bool(_ key: String) throws(StatusDecodingError) -> Bool {
        guard case .bool(let flag)? = present(key) else { throw mismatch(key, "true or false") }
        return flag
    }

    func optionalNumber(_ key: String) throws(StatusDecodingError) -> Double? {
        guard let value = present(key) else { return nil }
        guard case .number(let text) = value, let number = Double(text) else { throw mismatch(key, "a number") }
        return number
    }

    func number(_ key: String) throws(StatusDecodingError) -> Double {
        guard let number = try optionalNumber(key) else { throw mismatch(key, "a number") }
        return number
    }

    /// An integer written as one (`12`) or as a number with an integral value (`12.0`, `1.2e1`), as JSONDecoder takes it.
    func optionalInteger<Integer: FixedWidthInteger>(_ key: String) throws(StatusDecodingError) -> Integer? {
        guard let value = present(key) else { return nil }
        guard case .number(let text) = value else { throw mismatch(key, "an integer") }
        if let exact = Integer(text) { return exact }
        guard let number = Double(text), let integral = Integer(exactly: number) else {
            throw mismatch(key, "an integer")
        }
        return integral
    }

    func integer<Integer: FixedWidthInteger>(_ key: String) throws(StatusDecodingError) -> Integer {
        guard let number: Integer = try optionalInteger(key) else { throw mismatch(key, "an integer") }
        return number
    }

    func rawValue<Value: RawRepresentable<String>>(_ key: String) throws(StatusDecodingError) -> Value {
        guard let value = Value(rawValue: try string(key)) else { throw mismatch(key, "a known \(key) name") }
        return value
    }

    func strings(_ key: String) throws(StatusDecodingError) -> [String] {
        guard case .array(let items)? = present(key) else { throw mismatch(key, "an array of strings") }
        var texts: [String] = []
        for item in items {
            guard case .string(let text) = item else { throw mismatch(key, "an array of strings") }
            texts.append(text)
        }
        return texts
    }

    func optionalNumbers(_ key: String) throws(StatusDecodingError) -> [String: Double]? {
        guard let value = present(key) else { return nil }
        guard case .object(let list) = value else { throw mismatch(key, "an object of numbers") }
        var numbers: [String: Double] = [:]
        for (name, item) in list {
            guard case .number(let text) = item, let number = Double(text) else {
                throw mismatch(key, "an object of numbers")
            }
            numbers[name] = number
        }
        return numbers
    }

    func optionalStrings(_ key: String) throws(StatusDecodingError) -> [String: String]? {
        guard let value = present(key) else { return nil }
        guard case .object(let list) = value else { throw mismatch(key, "an object of strings") }
        var texts: [String: String] = [:]
        for (name, item) in list {
            guard case .string(let text) = item else { throw mismatch(key, "an object of strings") }
            texts[name] = text
        }
        return texts
    }

    func optionalObject(_ key: String) throws(StatusDecodingError) -> StatusFields? {
        guard let value = present(key) else { return nil }
        return try StatusFields(value, path: name(key))
    }

    func object(_ key: String) throws(StatusDecodingError) -> StatusFields {
        guard let fields = try optionalObject(key) else { throw mismatch(key, "an object") }
        return fields
    }
}
