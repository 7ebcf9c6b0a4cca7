/// Counts of validation outcomes: how many answers were validated, passed and rejected, per rejection code, and
/// per note. A value: merge and compare freely; `ValidationStats` shares one between tasks.
public struct ValidationCounts: Sendable, Equatable, Codable {
    public private(set) var validated = 0
    public private(set) var passed = 0
    public private(set) var rejected = 0
    /// Rejections per code (`syntax_error_python` → 3).
    public private(set) var rejections: [String: Int] = [:]
    /// Answers per note (`unterminated_fence` → 1), counted once per answer.
    public private(set) var notes: [String: Int] = [:]

    public init() {}

    /// Adds one report.
    public mutating func record(_ report: ValidationReport) {
        validated += 1
        if report.passed { passed += 1 } else { rejected += 1 }
        if !report.passed { rejections[report.rejectionReason ?? "unknown", default: 0] += 1 }
        for note in Set(report.notes) { notes[note, default: 0] += 1 }
    }

    /// Adds another tally.
    public mutating func merge(_ other: ValidationCounts) {
        validated += other.validated
        passed += other.passed
        rejected += other.rejected
        rejections.merge(other.rejections, uniquingKeysWith: +)
        notes.merge(other.notes, uniquingKeysWith: +)
    }

    /// Flat counters for progress reports and metrics: `validated`, `passed`, `rejected`, `rejected_<code>` per
    /// rejection code and `note_<code>` per note.
    public var counters: [String: Int] {
        var result = ["validated": validated, "passed": passed, "rejected": rejected]
        for (code, count) in rejections { result["rejected_\(code)"] = count }
        for (note, count) in notes { result["note_\(note)"] = count }
        return result
    }
}

/// Validation counts shared by concurrent tasks (e.g. every worker of `heidi-collect`).
public actor ValidationStats {
    private var counts = ValidationCounts()

    public init() {}

    /// Adds one report.
    public func record(_ report: ValidationReport) { counts.record(report) }

    /// The counts so far.
    public var snapshot: ValidationCounts { counts }

    /// The counts so far as flat counters (see `ValidationCounts.counters`).
    public var counters: [String: Int] { counts.counters }
}
