/// What one output line says about a stage's progress.
public struct ProgressReading: Sendable, Equatable {
    public var done: Double
    public var total: Double?
    /// Items per second, when the line says.
    public var rate: Double?
    /// Seconds left, when the line says.
    public var eta: Double?

    public init(done: Double, total: Double? = nil, rate: Double? = nil, eta: Double? = nil) {
        self.done = done
        self.total = total
        self.rate = rate
        self.eta = eta
    }
}

/// Live progress of the running stage as status shows it (`child.progress`).
public struct ChildProgress: Sendable, Equatable, Codable {
    public var done: Double
    public var total: Double?
    /// 0–100, one decimal; nil without a total.
    public var percent: Double?
    /// Items per second: as the stage printed it, else measured from the readings.
    public var rate: Double?
    /// Seconds left: as the stage printed it, else from the rate.
    public var etaSeconds: Double?

    public init(
        done: Double,
        total: Double? = nil,
        percent: Double? = nil,
        rate: Double? = nil,
        etaSeconds: Double? = nil
    ) {
        self.done = done
        self.total = total
        self.percent = percent
        self.rate = rate
        self.etaSeconds = etaSeconds
    }

    enum CodingKeys: String, CodingKey {
        case done, total, percent, rate
        case etaSeconds = "eta_s"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(done, forKey: .done)
        try c.encode(total, forKey: .total)
        try c.encode(percent, forKey: .percent)
        try c.encode(rate, forKey: .rate)
        try c.encode(etaSeconds, forKey: .etaSeconds)
    }

    /// `45/100 (45%) 30.1/s ETA 2s`, for status lines.
    public var summary: String {
        var text = Self.number(done)
        if let total { text += "/" + Self.number(total) }
        if let percent { text += " (\(Self.number(percent))%)" }
        if let rate { text += " \(Self.number((rate * 100).rounded() / 100))/s" }
        if let etaSeconds {
            text += " ETA " + (etaSeconds < 60 ? "\(Int(etaSeconds.rounded()))s" : Units.formatDuration(etaSeconds))
        }
        return text
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
