/// Finds the newest progress reading in one pipe's raw output as it arrives, read by read. Lines end at `\n` or at
/// `\r` (tqdm redraws its bar with carriage returns and ends the line only when it closes). Per read it looks at the
/// unterminated end first, then at most `maxSegments` complete segments from the newest back, each at most
/// `maxSegment` bytes: a flood of output costs a few short scans per read, not one per line.
public struct ProgressScanner: Sendable {
    public static let maxSegment = 4096
    public static let maxSegments = 8
    public let recogniser: ProgressRecogniser
    /// The unterminated segment so far (empty once it grew past `maxSegment`, until the next terminator).
    private var tail: [UInt8] = []
    private var tailOverflowed = false

    public init(recogniser: ProgressRecogniser) { self.recogniser = recogniser }

    /// The newest reading `bytes` completes or shows, if any.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> ProgressReading? {
        let input = bytes.bindMemory(to: UInt8.self)
        guard let last = input.lastIndex(where: { $0 == 0x0a || $0 == 0x0d }) else {
            appendToTail(input[...])
            return tailOverflowed ? nil : reading(tail[...], complete: false)
        }
        // The newest: whatever follows the last terminator.
        var previousTail = tail
        let previousOverflowed = tailOverflowed
        tail = []
        tailOverflowed = false
        appendToTail(input[(last + 1)...])
        if !tail.isEmpty, !tailOverflowed, let found = reading(tail[...], complete: false) { return found }
        // Then complete segments, newest first.
        var end = last
        var checked = 0
        while checked < Self.maxSegments {
            let start = input[..<end].lastIndex(where: { $0 == 0x0a || $0 == 0x0d }).map { $0 + 1 }
            let segment = input[(start ?? 0)..<end]
            if start == nil {
                // The first segment of this read continues the previous tail.
                guard !previousOverflowed, previousTail.count + segment.count <= Self.maxSegment else { return nil }
                previousTail.append(contentsOf: segment)
                return reading(previousTail[...], complete: true)
            }
            if let found = reading(Array(segment)[...], complete: true) { return found }
            checked += 1
            guard let start else { break }
            end = start - 1
        }
        return nil
    }

    private mutating func appendToTail(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) {
        guard !tailOverflowed else { return }
        if tail.count + bytes.count > Self.maxSegment {
            tail = []
            tailOverflowed = true
        } else {
            tail.append(contentsOf: bytes)
        }
    }

    private func reading(_ segment: ArraySlice<UInt8>, complete: Bool) -> ProgressReading? {
        guard !segment.isEmpty, segment.count <= Self.maxSegment else { return nil }
        let text = String(decoding: segment, as: UTF8.self)
        return recogniser.reading(in: text[...], complete: complete)
    }
}

/// Turns successive readings into what status shows: percent, and a rate and ETA measured from the readings when
/// the output does not print them. A reading with less done than the last, or another total, starts a new bar
/// (tqdm shows one per epoch or eval pass) and a new rate measurement.
public struct ProgressTracker: Sendable, Equatable {
    private var baseline: (done: Double, total: Double?, at: Double)?
    public private(set) var current: ChildProgress?

    public init() {}

    public static func == (lhs: ProgressTracker, rhs: ProgressTracker) -> Bool { lhs.current == rhs.current }

    /// Records `reading`, seen at `now` (monotonic seconds). Returns whether what status shows changed.
    @discardableResult
    public mutating func record(_ reading: ProgressReading, at now: Double) -> Bool {
        if let base = baseline, reading.done >= (current?.done ?? 0), reading.total == base.total {
        } else {
            baseline = (reading.done, reading.total, now)
        }
        var progress = ChildProgress(done: reading.done, total: reading.total)
        if let total = reading.total, total > 0 {
            progress.percent = (min(100, max(0, reading.done / total * 100)) * 10).rounded() / 10
        }
        if let rate = reading.rate {
            progress.rate = rate
        } else if let base = baseline, now - base.at >= 0.5, reading.done > base.done {
            progress.rate = (reading.done - base.done) / (now - base.at)
        }
        if let eta = reading.eta {
            progress.etaSeconds = eta
        } else if let total = reading.total, let rate = progress.rate, rate > 0 {
            progress.etaSeconds = (max(0, total - reading.done) / rate).rounded()
        }
        progress.rate = progress.rate.map { ($0 * 1000).rounded() / 1000 }
        let changed = progress != current
        current = progress
        return changed
    }
}
