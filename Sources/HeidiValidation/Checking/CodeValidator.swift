import HeidiCore
import HeidiSupervisor

/// Checks the code in model answers with the real toolchains, so that samples with broken code are dropped at
/// generation time.
///
/// `validate` extracts the fenced blocks (`FenceExtractor`), decides per block what it is (the fence's tag, or
/// `LanguageGuesser` for untagged blocks) and what to do with it (`ValidationPlanner`), and runs one syntax check
/// per code block (`SyntaxCheck`) as a supervised child process with a timeout, at most
/// `configuration.parallelism` at once over all concurrent calls (and copies of this value). Each check works in
/// its own scratch directory, removed afterwards whatever happened.
///
/// Toolchains are resolved once, here; `availableToolchains()` reports the result for a startup message.
/// `validate` never throws: every failure is a rejection code in the report.
///
/// Processes that escape their process group with `setsid` are only found when this process is a child
/// subreaper (`TreeKiller.becomeSubreaper()`, which `heidi-collect` may call at start); the toolchains do not do
/// that.
public struct CodeValidator: Sendable {
    public let configuration: ValidationConfiguration
    private let executables: [CodeLanguage: String]
    /// `configuration.effectiveSearchPath`, read once: the checks' `PATH`.
    private let searchPath: String
    private let limiter: ConcurrencyLimiter
    private let planner: ValidationPlanner

    public init(configuration: ValidationConfiguration = ValidationConfiguration()) {
        self.configuration = configuration
        let searchPath = configuration.effectiveSearchPath
        self.searchPath = searchPath
        var executables: [CodeLanguage: String] = [:]
        for language in CodeLanguage.allCases {
            executables[language] = ToolchainLocator.resolve(
                configuration.toolchain(for: language),
                searchPath: searchPath
            )
        }
        self.executables = executables
        limiter = ConcurrencyLimiter(limit: configuration.parallelism)
        planner = ValidationPlanner(enabledLanguages: configuration.enabledLanguages)
    }

    /// Extracts the fenced code blocks of `text`, guesses the language of untagged ones, and checks each code
    /// block with its language's toolchain. `expectedLanguage` (any alias: `py`, `c++`, `node`, `golang`), when
    /// given, is the language every code block must be in.
    public func validate(_ text: String, expectedLanguage: String?) async -> ValidationReport {
        let plan = planner.plan(FenceExtractor.extract(text), expectedLanguage: expectedLanguage)
        let results = await withTaskGroup(of: (Int, BlockResult).self) { group in
            for (index, planned) in plan.blocks.enumerated() {
                group.addTask { (index, await self.result(for: planned, index: index)) }
            }
            var results = [BlockResult?](repeating: nil, count: plan.blocks.count)
            for await (index, result) in group { results[index] = result }
            return results.compactMap { $0 }
        }
        let rejection = plan.rejection ?? results.first { !$0.passed }?.reason
        var notes: [String] = []
        for note in results.flatMap(\.notes) where !notes.contains(note) { notes.append(note) }
        return ValidationReport(passed: rejection == nil, blocks: results, rejectionReason: rejection, notes: notes)
    }

    /// Per enabled language (`python`, `cpp`, `javascript`, `go`): whether its toolchain was found.
    public func availableToolchains() -> [String: Bool] {
        var result: [String: Bool] = [:]
        for language in configuration.enabledLanguages { result[language.rawValue] = executables[language] != nil }
        return result
    }

    /// The resolved executable of `language`'s toolchain, nil when it was not found.
    public func toolchainPath(for language: CodeLanguage) -> String? { executables[language] }

    // MARK: - One block

    private func result(for planned: PlannedBlock, index: Int) async -> BlockResult {
        var result = BlockResult(
            index: index,
            line: planned.block.openingLine,
            language: planned.language,
            languageSource: planned.source,
            validated: false,
            passed: true,
            notes: planned.notes
        )
        switch planned.action {
        case .skip:
            return result
        case .reject(let code):
            result.passed = false
            result.reason = code
            return result
        case .check(let language):
            let started = MonotonicClock.nanoseconds()
            let verdict: CheckVerdict
            if let executable = executables[language] {
                do {
                    verdict = try await limiter.withPermit {
                        await self.check(planned.block.code, language: language, executable: executable)
                    }
                } catch {
                    verdict = .cancelled
                }
            } else {
                let command = configuration.toolchain(for: language)
                verdict = .toolchainMissing(
                    ValidationError.toolchainNotFound(command: command, searchPath: searchPath).description
                )
            }
            result.durationMs = Int((MonotonicClock.nanoseconds() - started) / 1_000_000)
            apply(verdict, language: language, to: &result)
            return result
        }
    }

    private func apply(_ verdict: CheckVerdict, language: CodeLanguage, to result: inout BlockResult) {
        switch verdict {
        case .passed:
            result.validated = true
        case .syntaxError(let diagnostic):
            result.validated = true
            result.passed = false
            result.reason = RejectionCode.syntaxError(language)
            result.diagnostic = diagnostic
        case .timedOut(let diagnostic):
            result.passed = false
            result.reason = RejectionCode.timeout(language)
            result.diagnostic = diagnostic
        case .toolchainMissing(let diagnostic):
            result.diagnostic = diagnostic
            if configuration.failClosed {
                result.passed = false
                result.reason = RejectionCode.toolchainMissing(language)
            } else {
                result.notes.append(RejectionCode.toolchainMissing(language))
            }
        case .toolchainError(let diagnostic):
            result.passed = false
            result.reason = RejectionCode.toolchainError(language)
            result.diagnostic = diagnostic
        case .cancelled:
            result.passed = false
            result.reason = RejectionCode.cancelled
        }
    }

    /// Runs the language's check, and its fallback for fragments when the first run says the block has another
    /// shape.
    private func check(_ code: String, language: CodeLanguage, executable: String) async -> CheckVerdict {
        let primary = SyntaxCheck.primary(language, code: code, cppStandard: configuration.cppStandard)
        let verdict = await run(primary, executable: executable)
        if case .syntaxError(let diagnostic) = verdict,
            let fallback = SyntaxCheck.fallback(after: primary, code: code, diagnostic: diagnostic ?? "")
        {
            return await run(fallback, executable: executable)
        }
        return verdict
    }

    /// One toolchain run in a fresh scratch directory, removed afterwards.
    private func run(_ check: SyntaxCheck, executable: String) async -> CheckVerdict {
        let scratch: ScratchDirectory
        do { scratch = try ScratchDirectory.make(in: configuration.temporaryDirectory) } catch {
            return .toolchainError(error.description)
        }
        defer { scratch.remove() }
        let outcome: SupervisedCommand.Outcome
        do {
            try scratch.write(check.fileName, check.source)
            outcome = try await SupervisedCommand(
                argv: [executable] + check.arguments,
                environment: environment(scratch: scratch),
                workingDirectory: scratch.path,
                timeout: configuration.timeoutSeconds,
                grace: configuration.graceSeconds,
                outputLimit: configuration.outputLimitBytes
            ).run()
        } catch {
            return error.isMissingToolchain ? .toolchainMissing(error.description) : .toolchainError(error.description)
        }
        let diagnostic = DiagnosticExcerpt.make(
            stderr: outcome.stderr,
            stdout: outcome.stdout,
            scratchPath: scratch.path,
            maxLines: configuration.diagnosticMaxLines,
            maxCharacters: configuration.diagnosticMaxCharacters
        )
        switch outcome.ending {
        case .exited(0):
            return .passed
        case .exited(let status) where check.syntaxErrorStatuses.contains(status):
            return .syntaxError(diagnostic)
        case .exited(let status):
            return .toolchainError(Self.explain("\(executable) exited with status \(status)", diagnostic))
        case .signaled(let signal):
            return .toolchainError(Self.explain("\(executable) was killed by \(SignalName.name(signal))", diagnostic))
        case .timedOut:
            let seconds = configuration.timeoutSeconds
            return .timedOut(
                Self.explain("no result within \(seconds) s; the check's processes were killed", diagnostic)
            )
        case .cancelled:
            return .cancelled
        }
    }

    /// The checks' environment: nothing of this process's but `PATH` (so no credential leaks into a toolchain),
    /// the scratch directory as `HOME` and `TMPDIR`, a UTF-8 locale, no Python bytecode outside the scratch
    /// directory; then `configuration.environment`.
    private func environment(scratch: ScratchDirectory) -> [String: String] {
        var environment = [
            "PATH": searchPath,
            "HOME": scratch.path,
            "TMPDIR": scratch.path,
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPYCACHEPREFIX": scratch.path + "/pycache",
        ]
        environment.merge(configuration.environment) { _, configured in configured }
        return environment
    }

    private static func explain(_ summary: String, _ diagnostic: String?) -> String {
        guard let diagnostic else { return summary }
        return summary + "\n" + diagnostic
    }
}
