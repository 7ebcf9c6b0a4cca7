/// The status object's JSON as of a publication, with slots for the members that change without one: the running
/// child's clock, progress channel and executor facts, and `updated_at`.
///
/// The engine publishes a snapshot on every change; a status request only fills in the slots
/// (`render(child:updatedAt:)`), copying the rest as bytes instead of encoding some forty members again. The same
/// template makes `StatusSnapshot.jsonBytes()`, so the two can never differ.
public struct StatusJSONTemplate: Sendable {
    /// A member filled in on every render.
    enum Slot: Sendable {
        case counters, elapsed, executor, progress, status, usage, updatedAt
    }

    /// `updated_at`: the snapshot's own text, or a time written as `Timestamp.description` writes it.
    public enum UpdatedAt: Sendable {
        case text(String)
        case timestamp(Timestamp)
    }

    /// `fixed[i]` comes before `slots[i]`; the last element of `fixed` ends the document.
    private let fixed: [[UInt8]]
    private let slots: [Slot]
    /// The fixed bytes' total length plus room for the slots: one allocation per render.
    private let capacity: Int

    public init(_ snapshot: StatusSnapshot) {
        var builder = Builder()
        snapshot.writeTemplate(into: &builder)
        builder.finish()
        fixed = builder.fixed
        slots = builder.slots
        capacity = builder.fixed.reduce(0) { $0 + $1.count } + 256
    }

    /// The document with `child`'s live members (those the snapshot's child has otherwise: the slots exist only
    /// when the template's snapshot had a child) and `updatedAt`, followed by a newline when `newline` is set.
    public func render(child: ChildStatus?, updatedAt: UpdatedAt, newline: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(capacity)
        for (index, slot) in slots.enumerated() {
            out.append(contentsOf: fixed[index])
            Self.write(slot, child: child, updatedAt: updatedAt, to: &out)
        }
        if let last = fixed.last { out.append(contentsOf: last) }
        if newline { out.append(0x0a) }
        return out
    }

    private static func write(_ slot: Slot, child: ChildStatus?, updatedAt: UpdatedAt, to out: inout [UInt8]) {
        switch slot {
        case .counters: writeNumbers(child?.counters, to: &out)
        case .elapsed: JSONText.appendNumber(finite(child?.elapsedSeconds ?? 0), to: &out)
        case .executor:
            guard let executor = child?.executor else { return }
            out.append(contentsOf: #","executor":{"#.utf8)
            for (index, key) in executor.keys.sorted().enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONText.appendString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                JSONText.appendString(executor[key] ?? "", to: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .progress:
            guard let progress = child?.progress else { return out.append(contentsOf: "null".utf8) }
            var object = Builder()
            object.number("done", progress.done)
            object.optionalNumber("eta_s", progress.etaSeconds)
            object.optionalNumber("percent", progress.percent)
            object.optionalNumber("rate", progress.rate)
            object.optionalNumber("total", progress.total)
            object.finish()
            out.append(contentsOf: object.fixed[0])
        case .status:
            if let status = child?.status { JSONText.appendString(status, to: &out) } else { out += "null".utf8 }
        case .usage: writeNumbers(child?.usage, to: &out)
        case .updatedAt:
            switch updatedAt {
            case .text(let text): JSONText.appendString(text, to: &out)
            case .timestamp(let time): JSONText.appendTimestamp(time.microseconds, to: &out)
            }
        }
    }

    private static func writeNumbers(_ values: [String: Double]?, to out: inout [UInt8]) {
        if let values { JSONText.appendNumberMap(values, to: &out) } else { out.append(contentsOf: "null".utf8) }
    }

    private static func finite(_ value: Double) -> Double { value.isFinite ? value : 0 }

    /// Writes one JSON object's members in the order given (callers give them sorted), nested objects inline,
    /// and cuts the bytes at each slot.
    struct Builder {
        private(set) var fixed: [[UInt8]] = []
        private(set) var slots: [Slot] = []
        private var bytes: [UInt8] = [UInt8(ascii: "{")]
        /// Whether the innermost open object has no member yet.
        private var first = true

        init() { bytes.reserveCapacity(1024) }

        private mutating func key(_ name: String) {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            JSONText.appendString(name, to: &bytes)
            bytes.append(UInt8(ascii: ":"))
        }

        /// A member filled in on every render: its key here (nil: the slot writes its own, comma included).
        mutating func slot(_ slot: Slot, key name: String?) {
            if let name { key(name) }
            fixed.append(bytes)
            slots.append(slot)
            bytes = []
        }

        mutating func beginObject(_ name: String) {
            key(name)
            bytes.append(UInt8(ascii: "{"))
            first = true
        }

        mutating func endObject() {
            bytes.append(UInt8(ascii: "}"))
            first = false
        }

        mutating func string(_ name: String, _ value: String) {
            key(name)
            JSONText.appendString(value, to: &bytes)
        }

        mutating func optionalString(_ name: String, _ value: String?) {
            if let value { string(name, value) } else { null(name) }
        }

        mutating func number(_ name: String, _ value: Double) {
            key(name)
            JSONText.appendNumber(StatusJSONTemplate.finite(value), to: &bytes)
        }

        mutating func optionalNumber(_ name: String, _ value: Double?) {
            if let value { number(name, value) } else { null(name) }
        }

        mutating func bool(_ name: String, _ value: Bool) {
            key(name)
            bytes.append(contentsOf: (value ? "true" : "false").utf8)
        }

        mutating func null(_ name: String) {
            key(name)
            bytes.append(contentsOf: "null".utf8)
        }

        mutating func strings(_ name: String, _ values: [String]) {
            key(name)
            JSONText.appendStringArray(values, to: &bytes)
        }

        /// Closes the outermost object: the bytes since the last slot become the last fixed part.
        mutating func finish() {
            bytes.append(UInt8(ascii: "}"))
            fixed.append(bytes)
            bytes = []
        }
    }
}
