import HeidiCore
import Testing

/// Training scalars kept for the dashboard's curves: bounded, evenly downsampled, per run (issue 17).
@Suite("Scalar series")
struct ScalarSeriesTests {
    @Test("points by step; the step key is not a value")
    func points() {
        var series = ScalarSeries()
        series.add(["step": 10, "loss": 0.5, "lr": 2e-4])
        #expect(series.points == [ScalarSeries.Point(step: 10, values: ["loss": 0.5, "lr": 2e-4])])
    }

    @Test("bounded: 10,000 reports keep at most the capacity, spread evenly over the whole stage")
    func downsampled() {
        var series = ScalarSeries(capacity: 64)
        for step in 0..<10_000 { series.add(["step": Double(step), "loss": 1 / Double(step + 1)]) }
        #expect(series.points.count <= 64)
        #expect(series.points.count >= 32)
        #expect(series.points.first?.step == 0)
        #expect((series.points.last?.step ?? 0) >= 10_000 - Double(series.stride))
        let gaps = zip(series.points.dropFirst(), series.points).map { $0.step - $1.step }
        #expect(Set(gaps).count == 1, "even spacing: \(Set(gaps))")
        #expect(series.received == 10_000)
    }

    @Test("at most 16 names per report")
    func names() {
        var series = ScalarSeries()
        var report: [String: Double] = ["step": 1]
        for index in 0..<40 { report["m\(index)"] = Double(index) }
        #expect(series.add(report) != nil)
        #expect(series.points.first?.values.count == ScalarSeries.maxNames)
    }

    @Test("the store keeps the newest runs, serves JSON by round and stage, and an empty list for unknown runs")
    func store() {
        var store = ScalarStore()
        var series = ScalarSeries()
        series.add(["step": 1, "loss": 0.75])
        series.add(["step": 2, "loss": 0.5])
        store.update(runID: "run_a", round: 2, stage: "train", series: series)
        store.update(runID: "run_a", round: 1, stage: "train", series: series)
        #expect(
            String(decoding: store.json(runID: "run_a"), as: UTF8.self) == """
                {"run_id":"run_a","series":[{"round":1,"stage":"train","stride":1,"points":[{"step":1,"loss":0.75},{"step":2,"loss":0.5}]},\
                {"round":2,"stage":"train","stride":1,"points":[{"step":1,"loss":0.75},{"step":2,"loss":0.5}]}]}

                """
        )
        for index in 0..<20 { store.update(runID: "run_\(index)", round: 1, stage: "train", series: series) }
        #expect(String(decoding: store.json(runID: "run_a"), as: UTF8.self) == "{\"run_id\":\"run_a\",\"series\":[]}\n")
        #expect(String(decoding: store.json(runID: "run_19"), as: UTF8.self).contains("\"loss\":0.5"))
    }
}
