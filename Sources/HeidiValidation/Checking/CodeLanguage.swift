/// A language whose code heidi checks with a real toolchain.
///
/// The raw value is the canonical name used everywhere a language is named: in rejection codes
/// (`syntax_error_python`), in `BlockResult.language`, in `ValidationConfiguration.toolchains`.
public enum CodeLanguage: String, CaseIterable, Sendable, Codable, Hashable, Comparable, CustomStringConvertible {
    case python
    case cpp
    case javascript
    case go

    /// The language an info string or an expected-language name denotes (`py`, `c++`, `node`, `golang`, …), or nil
    /// when it is not one of the checked languages.
    public init?(name: String) {
        guard case .supported(let language) = LanguageTag(infoString: name) else { return nil }
        self = language
    }

    /// The executable looked up on `PATH` when the configuration names none.
    public var defaultToolchain: String {
        switch self {
        case .python: return "python3"
        case .cpp: return "g++"
        case .javascript: return "node"
        case .go: return "gofmt"
        }
    }

    /// The Debian 12 package that provides `defaultToolchain`.
    public var debianPackage: String {
        switch self {
        case .python: return "python3"
        case .cpp: return "g++"
        case .javascript: return "nodejs"
        case .go: return "golang-go"
        }
    }

    public var description: String { rawValue }

    public static func < (lhs: CodeLanguage, rhs: CodeLanguage) -> Bool {
        allCases.firstIndex(of: lhs) ?? 0 < allCases.firstIndex(of: rhs) ?? 0
    }
}
