/// A configuration problem, naming where it came from (file and line, environment variable or flag) and the key.
public struct ConfigError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The file path, `environment` or `command line`.
    public var source: String
    public var line: Int?
    /// Dotted key path (`stages.train.timeout`) or variable name (`ROUNDS`).
    public var key: String
    public var message: String

    public init(source: String, line: Int? = nil, key: String, message: String) {
        self.source = source
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        let location = line.map { "\(source):\($0)" } ?? source
        return key.isEmpty ? "\(location): \(message)" : "\(location): \(key): \(message)"
    }
}
