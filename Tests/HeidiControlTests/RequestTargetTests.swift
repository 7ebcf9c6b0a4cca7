import HeidiAPI
import Testing

/// heidid's router and heidi-web split request targets with the same code.
@Suite("Request targets")
struct RequestTargetTests {
    @Test("path and query, percent and plus decoded, a bad escape kept as it is")
    func parses() {
        let target = RequestTarget("/api/v1/logs?stage=train&round=2&note=a+b%2Fc%zz&flag")
        #expect(target.path == "/api/v1/logs")
        #expect(target.query == ["stage": "train", "round": "2", "note": "a b/c%zz", "flag": ""])
        #expect(RequestTarget("/health").query.isEmpty)
        #expect(RequestTarget("/x?%E2%9C%93=1").query == ["✓": "1"])
        #expect(RequestTarget.decode("100%") == "100%" && RequestTarget.decode("%4") == "%4")
    }
}
