import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// How `CodeValidator` checks code: which toolchains, how long, how many at once, and what a missing toolchain
/// means.
public struct ValidationConfiguration: Sendable {
    /// The executable per language: a bare name is looked up on `searchPath`, a name with a slash is used as is.
    /// Defaults: `python3`, `g++`, `node`, `gofmt`.
    public var toolchains: [CodeLanguage: String]
    /// The longest one check may run; then its whole process tree gets SIGTERM, and SIGKILL after
    /// `terminationGrace`. Default 10 s.
    public var timeout: Duration
    /// Between SIGTERM and SIGKILL for a check that timed out. Default 0.5 s.
    public var terminationGrace: Duration
    /// The most checks running at once, over every `validate` call of a validator and its copies. Default: the
    /// number of online CPUs.
    public var parallelism: Int
    /// True (the default): a missing toolchain rejects the sample with `toolchain_missing_<lang>`. False: the
    /// block is accepted unchecked, with that code as a note.
    public var failClosed: Bool
    /// The languages checked. A block in another language (by its tag) is rejected as `unsupported_language`.
    public var enabledLanguages: Set<CodeLanguage>
    /// The directories searched for bare toolchain names, `PATH` syntax; nil: this process's `PATH`. The checks
    /// get it as their `PATH` too.
    public var searchPath: String?
    /// Where each check's scratch directory is made (and always removed). Default: `$TMPDIR`, else `/tmp`.
    public var temporaryDirectory: String
    /// The `-std=` of the C++ check. Default `c++17`.
    public var cppStandard: String
    /// Output kept per stream of a check; the rest is discarded. Default 64 KiB.
    public var outputLimitBytes: Int
    /// Lines of a toolchain's complaint kept in `BlockResult.diagnostic`. Default 8.
    public var diagnosticMaxLines: Int
    /// Characters kept in `BlockResult.diagnostic`. Default 1000.
    public var diagnosticMaxCharacters: Int
    /// Extra environment for the checks, which get nothing of this process's environment but `PATH`: only `PATH`,
    /// `HOME` and `TMPDIR` (the scratch directory), `LANG`/`LC_ALL=C.UTF-8`, the Python bytecode settings, the
    /// supervisor's `HEIDI_STAGE_INSTANCE` marker, and this (which wins).
    public var environment: [String: String]

    public init(
        toolchains: [CodeLanguage: String] = ValidationConfiguration.defaultToolchains,
        timeout: Duration = .seconds(10),
        terminationGrace: Duration = .milliseconds(500),
        parallelism: Int = ValidationConfiguration.onlineProcessors,
        failClosed: Bool = true,
        enabledLanguages: Set<CodeLanguage> = Set(CodeLanguage.allCases),
        searchPath: String? = nil,
        temporaryDirectory: String = ValidationConfiguration.defaultTemporaryDirectory,
        cppStandard: String = "c++17",
        outputLimitBytes: Int = 64 * 1024,
        diagnosticMaxLines: Int = 8,
        diagnosticMaxCharacters: Int = 1000,
        environment: [String: String] = [:]
    ) {
        self.toolchains = toolchains
        self.timeout = timeout
        self.terminationGrace = terminationGrace
        self.parallelism = parallelism
        self.failClosed = failClosed
        self.enabledLanguages = enabledLanguages
        self.searchPath = searchPath
        self.temporaryDirectory = temporaryDirectory
        self.cppStandard = cppStandard
        self.outputLimitBytes = outputLimitBytes
        self.diagnosticMaxLines = diagnosticMaxLines
        self.diagnosticMaxCharacters = diagnosticMaxCharacters
        self.environment = environment
    }

    /// `python3`, `g++`, `node` and `gofmt`, looked up on the search path.
    public static let defaultToolchains: [CodeLanguage: String] = Dictionary(
        uniqueKeysWithValues: CodeLanguage.allCases.map { ($0, $0.defaultToolchain) }
    )

    /// The number of online CPUs (at least 1).
    public static var onlineProcessors: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// `$TMPDIR` when set to an absolute path, else `/tmp`.
    public static var defaultTemporaryDirectory: String {
        if let directory = ProcessEnvironment.current()["TMPDIR"], directory.hasPrefix("/") { return directory }
        return "/tmp"
    }

    /// The executable for `language` (the configured one, or the default name).
    public func toolchain(for language: CodeLanguage) -> String { toolchains[language] ?? language.defaultToolchain }

    /// The effective search path: `searchPath`, else this process's `PATH`, else the usual system directories.
    var effectiveSearchPath: String {
        searchPath ?? ProcessEnvironment.current()["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    }

    /// `timeout` in seconds.
    var timeoutSeconds: Double { timeout.seconds }
    /// `terminationGrace` in seconds.
    var graceSeconds: Double { terminationGrace.seconds }
}

extension Duration {
    /// The duration as floating-point seconds.
    var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }
}
