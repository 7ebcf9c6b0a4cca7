import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// An API key held in memory. Its description never shows the value.
public struct APIKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The key as sent in `Authorization: Bearer`.
    public let value: String
    /// Where it came from (`$OPENAI_API_KEY`, `/etc/heidi/openai.key`), for messages.
    public let source: String

    public init(value: String, source: String) {
        self.value = value
        self.source = source
    }

    public var description: String { "API key from \(source)" }
    public var debugDescription: String { description }
}

/// Why an API key could not be loaded. Never contains the key.
public enum APIKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    case variableUnset(String)
    case unreadable(path: String, reason: String)
    case worldReadable(path: String, mode: String)
    case empty(source: String)

    public var description: String {
        switch self {
        case .variableUnset(let name): return "--api-key-env \(name): the environment variable is not set"
        case .unreadable(let path, let reason): return "--api-key-file \(path): cannot read: \(reason)"
        case .worldReadable(let path, let mode):
            return "--api-key-file \(path): refusing a key file others can read (mode \(mode)); run: chmod 600 \(path)"
        case .empty(let source): return "\(source): the API key is empty"
        }
    }
}

/// Loads API keys from the environment or from a file that only its owner (and group) can read.
public enum APIKeyLoader {
    public static func fromEnvironment(_ name: String, environment: [String: String]) throws(APIKeyError) -> APIKey {
        guard let value = environment[name] else { throw .variableUnset(name) }
        let key = value.trimmingWhitespace
        guard !key.isEmpty else { throw .empty(source: "$\(name)") }
        return APIKey(value: key, source: "$\(name)")
    }

    /// The first line of `path`. Refused when the file is readable by others (mode o+r): a key file must be
    /// private. Group-readable is allowed (a `heidi` group sharing one key).
    public static func fromFile(_ path: String) throws(APIKeyError) -> APIKey {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .unreadable(path: path, reason: errnoDescription(errno)) }
        if info.st_mode & S_IROTH != 0 {
            throw .worldReadable(path: path, mode: "0" + String(info.st_mode & 0o777, radix: 8))
        }
        let bytes: [UInt8]
        do throws(FileSystemError) { bytes = try FileSystem.read(path) } catch {
            throw .unreadable(path: path, reason: errnoDescription(error.errno))
        }
        let firstLine =
            bytes.split(separator: UInt8(ascii: "\n"), maxSplits: 1, omittingEmptySubsequences: false).first ?? []
        let key = String(decoding: firstLine, as: UTF8.self).trimmingWhitespace
        guard !key.isEmpty else { throw .empty(source: path) }
        return APIKey(value: key, source: path)
    }
}

extension String {
    var trimmingWhitespace: String {
        var view = Substring(self)
        while let first = view.first, first.isWhitespace { view = view.dropFirst() }
        while let last = view.last, last.isWhitespace { view = view.dropLast() }
        return String(view)
    }
}
