import HeidiCore
import HeidiTestSupport
import Testing

/// docs/configuration.md's table of heidid's keys against the loader's own key tables (`ConfigKeys`), both ways: a key
/// the loader accepts without a row in the reference, or a row the loader would refuse, fails here.
@Suite("Config: the reference documents every key")
struct ConfigReferenceTests {
    @Test("every key the loader accepts has a row in docs/configuration.md, and every row is a key it accepts")
    func tableMatchesLoader() throws {
        let documented = try ConfigReference.documentedKeys(under: "heidid's keys")
        #expect(!documented.isEmpty, "no rows found under '## heidid's keys' in \(ConfigReference.path)")
        let undocumented = ConfigKeys.dotted.filter { !documented.contains($0) }
        let unknown = documented.filter { !ConfigKeys.dotted.contains($0) }
        #expect(
            undocumented.isEmpty,
            "keys the loader accepts but \(ConfigReference.path) does not document: \(undocumented)"
        )
        #expect(unknown.isEmpty, "rows in \(ConfigReference.path) that are no key of the loader's tables: \(unknown)")
        #expect(documented.count == Set(documented).count, "a key is documented twice: \(documented)")
    }

    /// The tables are what the reader really accepts: each key, set to a value of the wrong type, is read (the error
    /// names that very key and is about its value), never refused as unknown.
    @Test(
        "the reader accepts each key of its tables (and refuses one that is not in them)",
        arguments: ConfigKeys.dotted
    )
    func readerAcceptsKey(_ dotted: String) throws {
        let key = dotted.split(separator: ".").map { $0 == "<stage>" ? "train" : String($0) }.joined(separator: ".")
        let directory = Scratch.directory("config-reference")
        var outcomes: [String] = []
        for value in ["{}", "not-a-mapping"] {
            let error = try Self.load(key: key, value: value, directory: directory)
            if let error, error.key == key, !error.message.hasPrefix("unknown") { return }
            outcomes.append(error.map(\.description) ?? "accepted without an error")
        }
        Issue.record("\(key) is in ConfigKeys but the reader did not read it: \(outcomes)")
    }

    @Test("a key outside the tables is refused, and the error lists the table")
    func unknownKeyRefused() throws {
        let error = try Self.load(
            key: "journal.no_such_key",
            value: "1",
            directory: Scratch.directory("config-reference")
        )
        #expect(error?.key == "journal.no_such_key")
        #expect(error?.message == "unknown key (known: \(ConfigKeys.journal.joined(separator: ", ")))")
    }

    /// Loads a file that sets only `key` (dotted) to `value`; the error, or nil when it loaded.
    static func load(key: String, value: String, directory: String) throws -> ConfigError? {
        let parts = key.split(separator: ".")
        var yaml = ""
        for (depth, part) in parts.enumerated() {
            yaml += String(repeating: "  ", count: depth) + part + (depth == parts.count - 1 ? ": \(value)\n" : ":\n")
        }
        let path = directory + "/heidi.yaml"
        try FileSystem.writeAtomically(path, Array(yaml.utf8))
        do {
            _ = try ConfigLoader.load(path: path, environment: ["HOME": directory])
            return nil
        } catch {
            return error
        }
    }
}
