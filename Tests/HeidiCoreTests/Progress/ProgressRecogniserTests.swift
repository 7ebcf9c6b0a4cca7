import HeidiCore
import Testing

@Suite("Progress from output")
struct ProgressRecogniserTests {
    let auto = ProgressRecogniser(.auto)!

    @Test func originalEngineLines() {
        let reading = auto.reading(in: "[INFO] Generated 10/50 (20%) | 3.21 it/s | ETA 12s")
        #expect(reading == ProgressReading(done: 10, total: 50, rate: 3.21, eta: 12))
        #expect(
            auto.reading(in: "[INFO] Generated 50/50 (100%) | 0.00 it/s | ETA 0s")
                == ProgressReading(done: 50, total: 50, rate: 0, eta: 0)
        )
        #expect(auto.reading(in: "[OK] Wrote 50 samples to /x/raw_round_1.jsonl") == nil)
        #expect(
            auto.reading(in: "[INFO] Generated 10/5", complete: false) == nil,
            "a line caught mid-write is not read"
        )
    }

    @Test func tqdmBars() {
        #expect(
            auto.reading(in: " 45%|████▌     | 45/100 [00:01<00:02, 30.10it/s]   ")
                == ProgressReading(done: 45, total: 100, rate: 30.1, eta: 2)
        )
        // The Hugging Face trainer's bar: seconds per step, and a postfix.
        #expect(
            auto.reading(in: "  5%|▌         | 1/20 [00:01<01:02:03,  2.00s/it, loss=1.2]")
                == ProgressReading(done: 1, total: 20, rate: 0.5, eta: 3723)
        )
        #expect(auto.reading(in: "Map: 1.2k/10.0k [00:03<?, ?it/s]") == ProgressReading(done: 1200, total: 10000))
        #expect(auto.reading(in: "45it [00:01, 30.10it/s]") == ProgressReading(done: 45, rate: 30.1))
        #expect(auto.reading(in: " 45%|████▌     | 45/100 [00:01<00:0", complete: false) == nil)
        #expect(auto.reading(in: "see [docs] for 3/4 of it") == nil)
        #expect(ProgressRecogniser(.engine)!.reading(in: "45/100 [00:01<00:02, 30.10it/s]") == nil)
        #expect(ProgressRecogniser(.tqdm)!.reading(in: "[INFO] Generated 10/50 (20%) | 3.21 it/s | ETA 12s") == nil)
    }

    @Test func configuredPattern() throws {
        let format = try ProgressFormat.parse(#"step (?<done>\d+) of (?<total>\d+)"#).get()
        let recogniser = try #require(ProgressRecogniser(format))
        #expect(recogniser.reading(in: "epoch 1 step 30 of 120 loss 0.4") == ProgressReading(done: 30, total: 120))
        #expect(recogniser.reading(in: "step 30 of 120", complete: false) == nil)
        #expect(recogniser.reading(in: "nothing here") == nil)
        guard case .failure(let error) = ProgressFormat.parse("autp") else {
            Issue.record("accepted")
            return
        }
        #expect(error.description.contains("auto, tqdm, heidi-engine") && error.description.contains("(?<done>"))
        guard case .failure(.invalidPattern) = ProgressFormat.parse("(?<done>[") else {
            Issue.record("accepted a bad regex")
            return
        }
    }

    @Test func scannerFollowsCarriageReturnRedrawsAndSplitReads() {
        var scanner = ProgressScanner(recogniser: auto)
        func feed(_ text: String) -> ProgressReading? { Array(text.utf8).withUnsafeBytes { scanner.feed($0) } }
        // tqdm redraws with \r and never ends the line until it closes: each redraw counts when it arrives.
        #expect(feed("\r  0%|          | 0/10 [00:00<?, ?it/s]")?.done == 0)
        #expect(feed("\r 30%|███       | 3/10 [00:01<00:02, 3.00it/s]")?.done == 3)
        // A redraw split across two reads is read once it is whole (until then, the redraw it ended is the newest).
        #expect(feed("\r 50%|█████     | 5/1")?.done == 3)
        #expect(feed("0 [00:02<00:02, 2.50it/s]") == ProgressReading(done: 5, total: 10, rate: 2.5, eta: 2))
        // Lines of other output after a progress line do not hide it (newest first, a few segments back).
        #expect(feed("\n[INFO] Generated 7/9 (78%) | 1.00 it/s | ETA 2s\nloading\nmore\n")?.done == 7)
        #expect(feed("x\n") == nil)
        // A partial line ended by the next read's first terminator is read as complete.
        #expect(feed("[INFO] Generated 8/9 (89%) | 1.00 it") == nil)
        #expect(feed("/s | ETA 1s\n")?.done == 8)
        // An overlong unterminated segment is dropped, not kept growing.
        #expect(feed(String(repeating: "y", count: ProgressScanner.maxSegment + 1)) == nil)
        #expect(feed(" 3/10 [00:01<00:02, 3.00it/s]\n") == nil)
        #expect(feed(" 4/10 [00:01<00:02, 3.00it/s]\n")?.done == 4)
    }

    @Test func trackerMeasuresRateAndETAWhenTheLineDoesNot() {
        var tracker = ProgressTracker()
        tracker.record(ProgressReading(done: 10, total: 110), at: 100)
        #expect(tracker.current == ChildProgress(done: 10, total: 110, percent: 9.1))
        tracker.record(ProgressReading(done: 30, total: 110), at: 104)
        #expect(tracker.current == ChildProgress(done: 30, total: 110, percent: 27.3, rate: 5, etaSeconds: 16))
        // A printed rate and ETA win.
        tracker.record(ProgressReading(done: 40, total: 110, rate: 9, eta: 7), at: 105)
        #expect(tracker.current?.rate == 9 && tracker.current?.etaSeconds == 7)
        // A new bar (fewer done) starts a new measurement.
        tracker.record(ProgressReading(done: 1, total: 5), at: 106)
        #expect(tracker.current == ChildProgress(done: 1, total: 5, percent: 20))
        let changed = tracker.record(ProgressReading(done: 1, total: 5), at: 106.1)
        #expect(!changed, "an unchanged reading is no change")
        #expect(
            ChildProgress(done: 30, total: 110, percent: 27.3, rate: 5, etaSeconds: 16).summary
                == "30/110 (27.3%) 5/s ETA 16s"
        )
    }
}
