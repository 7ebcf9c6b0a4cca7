import HeidiTestSupport
import Testing

@testable import HeidiWeb

/// docs/configuration.md's table of heidi-web's keys against the keys its settings loader accepts, both ways.
@Suite("heidi-web settings: the reference documents every key")
struct WebConfigReferenceTests {
    @Test("every web: key heidi-web accepts has a row in docs/configuration.md, and every row is one it accepts")
    func tableMatchesLoader() throws {
        let documented = try ConfigReference.documentedKeys(under: "heidi-web's keys")
        let accepted = WebSection.keys.map { "web.\($0)" }
        #expect(!documented.isEmpty, "no rows found under '## heidi-web's keys' in \(ConfigReference.path)")
        #expect(
            accepted.filter { !documented.contains($0) }.isEmpty,
            "undocumented in \(ConfigReference.path): \(accepted.filter { !documented.contains($0) })"
        )
        #expect(
            documented.filter { !accepted.contains($0) }.isEmpty,
            "documented but not accepted: \(documented.filter { !accepted.contains($0) })"
        )
    }

    /// `WebSection.keys` is what the reader accepts: each key with a wrong-type value (a list of lists: no key takes
    /// one) fails at that key, not as unknown.
    @Test("heidi-web's reader reads each key of its table", arguments: WebSection.keys)
    func readerAcceptsKey(_ name: String) throws {
        let path = Scratch.directory("web-config-reference") + "/heidi.yaml"
        do {
            _ = try WebSection.read("web:\n  \(name): [[1]]\n", path: path)
            Issue.record("web.\(name): a list of lists was accepted")
        } catch {
            #expect(
                !"\(error)".contains("unknown key"),
                "web.\(name) is in WebSection.keys but the reader refused it: \(error)"
            )
            #expect("\(error)".contains("web.\(name)"), "the error does not name web.\(name): \(error)")
        }
    }
}
