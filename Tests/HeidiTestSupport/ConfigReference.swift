import HeidiCore

/// docs/configuration.md, the configuration reference, as the tests that keep it true to the code read it.
public enum ConfigReference {
    /// The reference's path, from this file's place in the repository (Tests/HeidiTestSupport/ConfigReference.swift).
    public static let path: String = {
        var components = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        components.removeLast(3)
        return components.joined(separator: "/") + "/docs/configuration.md"
    }()

    /// The keys in the first column (`` `key` ``) of the table under the heading `## <heading>`, in order.
    public static func documentedKeys(under heading: String) throws -> [String] {
        let text = String(decoding: try FileSystem.read(path), as: UTF8.self)
        var keys: [String] = []
        var inSection = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") { inSection = line == "## \(heading)" }
            guard inSection, line.hasPrefix("| `") else { continue }
            let cell = line.dropFirst(3)
            guard let end = cell.firstIndex(of: "`") else { continue }
            keys.append(String(cell[..<end]))
        }
        return keys
    }
}
