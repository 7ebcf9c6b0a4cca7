/// Training scalars a stage reported (`X_HEIDI_SCALARS={"step":120,"loss":0.41}` on its progress channel), as points
/// by step. Bounded: at most `capacity` points; when full, every other point is dropped and only every `stride`-th
/// later report is kept, so the series always spans the whole stage at an even resolution.
public struct ScalarSeries: Sendable, Equatable {
    /// One report: its step and values (the `step` key itself is not among the values).
    public struct Point: Sendable, Equatable {
        public var step: Double
        public var values: [String: Double]

        public init(step: Double, values: [String: Double]) {
            self.step = step
            self.values = values
        }
    }

    public static let defaultCapacity = 512
    /// Most value names one point keeps.
    public static let maxNames = 16

    public private(set) var points: [Point] = []
    /// Reports received, including those downsampling skipped.
    public private(set) var received = 0
    /// Keep every `stride`-th report (doubles whenever the series is halved).
    public private(set) var stride = 1
    public let capacity: Int

    public init(capacity: Int = ScalarSeries.defaultCapacity) { self.capacity = max(2, capacity) }

    public var isEmpty: Bool { points.isEmpty }

    /// Adds one report. Without a finite `step` the report's position is its index. Returns a problem to log, if any.
    @discardableResult
    public mutating func add(_ report: [String: Double]) -> String? {
        let step = report["step"] ?? Double(received)
        received += 1
        guard (received - 1) % stride == 0 else { return nil }
        var values: [String: Double] = [:]
        var problem: String?
        for name in report.keys.sorted() where name != "step" {
            guard values.count < Self.maxNames else {
                problem = "X_HEIDI_SCALARS: more than \(Self.maxNames) names in one report; the rest were ignored"
                break
            }
            values[name] = report[name]
        }
        points.append(Point(step: step, values: values))
        if points.count > capacity {
            points = points.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
            stride *= 2
        }
        return problem
    }
}

/// The scalars of recent runs, by run, round and stage; what `GET /api/v1/scalars` serves. Bounded: the newest
/// `maxRuns` runs and `maxSeriesPerRun` (round, stage) series per run.
public struct ScalarStore: Sendable {
    public static let maxRuns = 8
    public static let maxSeriesPerRun = 64

    struct Key: Hashable, Comparable {
        var round: Int
        var stage: String
        static func < (lhs: Key, rhs: Key) -> Bool { (lhs.round, lhs.stage) < (rhs.round, rhs.stage) }
    }

    private var runs: [(runID: String, series: [Key: ScalarSeries])] = []

    public init() {}

    /// Replaces the series of a stage attempt with the one its progress channel holds now.
    public mutating func update(runID: String, round: Int, stage: String, series: ScalarSeries) {
        guard !series.isEmpty else { return }
        let key = Key(round: round, stage: stage)
        if let index = runs.firstIndex(where: { $0.runID == runID }) {
            guard runs[index].series[key] != nil || runs[index].series.count < Self.maxSeriesPerRun else { return }
            runs[index].series[key] = series
        } else {
            runs.append((runID, [key: series]))
            if runs.count > Self.maxRuns { runs.removeFirst(runs.count - Self.maxRuns) }
        }
    }

    /// `{"run_id":"…","series":[{"round":1,"stage":"train","stride":1,"points":[{"step":0,"loss":0.9},…]},…]}`
    /// (an empty list for a run without scalars).
    public func json(runID: String) -> [UInt8] {
        var out = Array("{\"run_id\":".utf8)
        JSONText.appendString(runID, to: &out)
        out += Array(",\"series\":[".utf8)
        let series = runs.first(where: { $0.runID == runID })?.series ?? [:]
        for (index, key) in series.keys.sorted().enumerated() {
            guard let values = series[key] else { continue }
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out += Array("{\"round\":\(key.round),\"stage\":".utf8)
            JSONText.appendString(key.stage, to: &out)
            out += Array(",\"stride\":\(values.stride),\"points\":[".utf8)
            for (pointIndex, point) in values.points.enumerated() {
                if pointIndex > 0 { out.append(UInt8(ascii: ",")) }
                out += Array("{\"step\":\(Self.number(point.step))".utf8)
                for name in point.values.keys.sorted() {
                    out.append(UInt8(ascii: ","))
                    JSONText.appendString(name, to: &out)
                    out += Array(":\(Self.number(point.values[name] ?? 0))".utf8)
                }
                out.append(UInt8(ascii: "}"))
            }
            out += Array("]}".utf8)
        }
        out += Array("]}\n".utf8)
        return out
    }

    /// Whole numbers without a fraction; values are finite (the progress channel drops others).
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
