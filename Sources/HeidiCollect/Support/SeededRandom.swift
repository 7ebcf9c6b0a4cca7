/// A small deterministic random number generator (SplitMix64).
///
/// Everything random in a run (template choice, mock latency jitter, injected failures, backoff jitter) draws from
/// a generator derived from the run's seed and the item's coordinates, so results never depend on scheduling.
/// Swift's `Hasher` is seeded per process and must never be used for this.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// A generator for one purpose and coordinate set, independent of every other combination.
    public init(seed: UInt64, _ purpose: StaticString, _ coordinates: Int...) {
        var state = Self.mix(seed ^ 0x6A09_E667_F3BC_C908)
        purpose.withUTF8Buffer { bytes in
            for byte in bytes { state = Self.mix(state ^ UInt64(byte)) }
        }
        for coordinate in coordinates { state = Self.mix(state ^ UInt64(bitPattern: Int64(coordinate))) }
        self.state = state
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// A uniform double in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
