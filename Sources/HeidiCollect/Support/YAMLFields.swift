import Yams

/// A problem at one place of a YAML file: file, line, dotted key, what is wrong.
public struct YAMLFieldError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var line: Int?
    public var key: String
    public var message: String

    public var description: String {
        let location = line.map { "\(path):\($0)" } ?? path
        return key.isEmpty ? "\(location): \(message)" : "\(location): \(key): \(message)"
    }
}

/// Typed access to a YAML document's nodes with errors that name the file, line and key.
struct YAMLFields {
    let path: String

    func document(_ text: String) throws(YAMLFieldError) -> Node? {
        do { return try Yams.compose(yaml: text) } catch {
            throw YAMLFieldError(path: path, line: nil, key: "", message: "invalid YAML: \(error)")
        }
    }

    func fail(_ node: Node?, _ key: String, _ message: String) -> YAMLFieldError {
        YAMLFieldError(path: path, line: node?.mark.map(\.line), key: key, message: message)
    }

    /// The entries of a mapping as (dotted key, value, plain name).
    func mapping(_ node: Node, _ prefix: String) throws(YAMLFieldError) -> [(key: String, value: Node, name: String)] {
        guard case .mapping(let map) = node else {
            throw fail(node, prefix.isEmpty ? "(top level)" : prefix, "expected a mapping of keys to values")
        }
        var result: [(key: String, value: Node, name: String)] = []
        for (keyNode, value) in map {
            guard case .scalar(let scalar) = keyNode else { throw fail(keyNode, prefix, "keys must be plain strings") }
            let name = scalar.string
            result.append((prefix.isEmpty ? name : prefix + "." + name, value, name))
        }
        return result
    }

    func sequence(_ node: Node, _ key: String) throws(YAMLFieldError) -> [Node] {
        guard case .sequence(let items) = node else { throw fail(node, key, "expected a list") }
        return Array(items)
    }

    func string(_ node: Node, _ key: String) throws(YAMLFieldError) -> String {
        guard case .scalar(let scalar) = node else { throw fail(node, key, "expected a single value") }
        return scalar.string
    }

    /// A list of strings, or one string standing for a list of one.
    func strings(_ node: Node, _ key: String) throws(YAMLFieldError) -> [String] {
        if case .scalar(let scalar) = node { return [scalar.string] }
        var result: [String] = []
        for item in try sequence(node, key) { result.append(try string(item, key)) }
        return result
    }

    func integer(_ node: Node, _ key: String, minimum: Int) throws(YAMLFieldError) -> Int {
        let text = try string(node, key)
        guard let value = Int(text.replacingUnderscores), value >= minimum else {
            throw fail(node, key, "expected an integer ≥ \(minimum), got \(text)")
        }
        return value
    }

    func number(_ node: Node, _ key: String, range: ClosedRange<Double>) throws(YAMLFieldError) -> Double {
        let text = try string(node, key)
        guard let value = Double(text.replacingUnderscores), value.isFinite, range.contains(value) else {
            throw fail(node, key, "expected a number in \(range.lowerBound)...\(range.upperBound), got \(text)")
        }
        return value
    }

    func boolean(_ node: Node, _ key: String) throws(YAMLFieldError) -> Bool {
        let text = try string(node, key)
        switch text.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: throw fail(node, key, "expected true or false, got \(text)")
        }
    }
}

extension String {
    /// `1_000` → `1000`: YAML and Swift readers both write large numbers that way.
    var replacingUnderscores: String { filter { $0 != "_" } }
}
