import HeidiCore
import HeidiSupervisor
import Testing

/// `X_HEIDI_SCALARS` on the progress channel (issue 17): parsed like the counters, kept as a series in the stage's
/// progress, malformed reports named and dropped.
@Suite("Progress channel: scalars")
struct ScalarsNotificationTests {
    @Test("parsed with the STATUS line of the same datagram; accumulated as points, not sums")
    func parsed() {
        let notification = StageNotification.parse(
            Array("STATUS=step 3/8\nX_HEIDI_SCALARS={\"step\":3,\"loss\":0.41}".utf8)
        )
        #expect(notification.status == "step 3/8")
        #expect(notification.scalars == ["step": 3, "loss": 0.41])
        var progress = StageProgress()
        progress.apply(notification)
        progress.apply(StageNotification.parse(Array("X_HEIDI_SCALARS={\"step\":4,\"loss\":0.39}".utf8)))
        #expect(progress.scalars.points.map(\.step) == [3, 4])
        #expect(progress.scalars.points.last?.values == ["loss": 0.39])
        #expect(progress.counters.isEmpty)
    }

    @Test("not JSON, not numbers, NaN: reported and dropped")
    func malformed() {
        for text in ["X_HEIDI_SCALARS=nope", "X_HEIDI_SCALARS={\"loss\":\"low\"}", "X_HEIDI_SCALARS={\"loss\":NaN}"] {
            let notification = StageNotification.parse(Array(text.utf8))
            #expect(notification.scalars.isEmpty, "\(text)")
            #expect(!notification.problems.isEmpty, "\(text)")
        }
    }
}
