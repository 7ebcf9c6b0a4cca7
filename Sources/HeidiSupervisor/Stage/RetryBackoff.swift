/// Exponential backoff with jitter for stage retries.
public enum RetryBackoff {
    /// The delay before retry number `retry` (1 for the first): `base × 2^(retry-1)`, capped at `cap`, of which the
    /// upper half is random ("equal jitter": never less than half the nominal delay, so retries spread out without
    /// ever hammering). `unit` is a random number in [0, 1).
    public static func delay(retry: Int, base: Double, cap: Double, unit: Double) -> Double {
        let exponent = Double(max(0, min(retry - 1, 62)))
        let nominal = min(max(0, cap), max(0, base) * Double(sign: .plus, exponent: Int(exponent), significand: 1))
        return nominal / 2 + nominal / 2 * min(max(unit, 0), 1)
    }
}
