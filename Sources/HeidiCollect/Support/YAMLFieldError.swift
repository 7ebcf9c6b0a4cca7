import HeidiYAML

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

/// heidi-collect's YAML readers: HeidiYAML's, with errors that name the file being read.
typealias YAMLFields = HeidiYAML.YAMLFields<YAMLFieldError>

extension HeidiYAML.YAMLFields where Failure == YAMLFieldError {
    /// Readers for the file at `path`.
    init(path: String) {
        self.init { line, key, message in YAMLFieldError(path: path, line: line, key: key, message: message) }
    }
}
