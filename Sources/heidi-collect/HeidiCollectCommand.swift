import ArgumentParser
import HeidiCollect
import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// `heidi-collect`: the native generate stage. Asks a teacher model (mock or OpenAI-compatible) for samples,
/// concurrently and within budgets, validates them and writes a JSONL dataset atomically.
@main
struct HeidiCollectCommand: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "heidi-collect",
        abstract:
            "Collect teacher samples (the generate stage): concurrent requests, budgets, validation, atomic JSONL output.",
        usage: """
            heidi-collect --provider mock|openai (--templates DIR|FILE | --prompts FILE) --output FILE [options]
            heidi-collect --config FILE [options]
            """,
        discussion: """
            Prompts come from templates (YAML per language: language, templates[task_type, instruction, input], topics) \
            or from a JSONL file ({"instruction","input","language","task_type"} per line). Requests run concurrently \
            (--concurrency), each with a timeout and retries with exponential backoff and jitter on 429, 5xx, timeouts \
            and connection errors (Retry-After is honoured). Budgets are hard: a request is sent only while its worst \
            case fits; when one is reached no new request is sent, requests in flight finish, and what was collected \
            is written.

            Output: one record per accepted answer, in prompt order, written atomically (temporary file, fsync, \
            rename): {"id","instruction","input","output","metadata":{teacher_model, provider, task_type, language, \
            round, seed, usage, validation, ...}}. Same seed + mock provider = byte-identical output.

            Progress: a line on stderr every --progress-interval (not with --quiet). With HEIDI_NOTIFY_SOCKET (set by \
            heidid), sd_notify datagrams at most 4 per second plus a final one: STATUS=generating N/M (...), \
            X_HEIDI_COUNTERS={...} and X_HEIDI_USAGE={...}, each carrying increments since the previous datagram.

            The API key is read from --api-key-env (default OPENAI_API_KEY) or --api-key-file (must not be readable \
            by others) and never printed or written.

            Exit status:
              0    every prompt was tried; the output is written
              1    the output could not be written
              2    usage or configuration error, or a budget too small for a single
                   request; nothing was sent
              3    a budget stopped the run; what was collected is written
                   (0 instead with --budget-exhausted-ok)
              4    every request failed, or HTTP 401/403/404; nothing written
              130  interrupted by SIGINT (143: SIGTERM); nothing written
            """,
        version: version
    )

    @OptionGroup(title: "Source and output") var source: SourceOptions
    @OptionGroup(title: "Provider") var provider: ProviderOptions
    @OptionGroup(title: "Requests") var requests: RequestOptions
    @OptionGroup(title: "Budgets") var budgets: BudgetOptions
    @OptionGroup(title: "Mock provider") var mock: MockOptions
    @OptionGroup(title: "Validation and progress") var reporting: ReportingOptions

    @Option(
        name: .long,
        help: ArgumentHelp(
            "YAML file with any of these settings (keys: flag names with _, e.g. max_cost); flags override it.",
            valueName: "file"
        )
    )
    var config: String?

    /// ArgumentParser exits 64 on usage errors; heidi's tools use 2.
    static func main() async {
        // Output goes to pipes heidid reads; a closed pipe must be an error, not a silent death.
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let exit as ExitCode {
            Glibc.exit(exit.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Glibc.exit(0)
            }
            ProcessEnvironment.printError(fullMessage(for: error))
            Glibc.exit(code == .validationFailure || code.rawValue == 64 ? CollectExitCode.usage : code.rawValue)
        }
    }

    func run() async throws {
        let log: @Sendable (String) -> Void = { ProcessEnvironment.printError("heidi-collect: " + $0) }
        let resolved: JobBuilder.Resolved
        do {
            var values = try flagValues()
            if let config {
                do throws(YAMLFieldError) { values = values.overriding(try CollectConfigFile.load(config)) } catch {
                    throw CollectConfigError(flag: "--config", message: error.description)
                }
            }
            resolved = try JobBuilder.build(values, environment: ProcessEnvironment.current())
        } catch let error as CollectConfigError {
            log("error: \(error)")
            throw ExitCode(CollectExitCode.usage)
        }
        if !resolved.quiet { for note in resolved.notes { log(note) } }
        let job = resolved.job
        if !resolved.quiet {
            log(
                "\(job.tasks.count) prompts → \(job.provider.name) \(job.settings.model), concurrency \(job.settings.concurrency), output \(job.output.path)"
            )
        }
        let report = await SignalGuard.run(job, log: log)
        for line in report.summary.split(separator: "\n") { log(String(line)) }
        throw ExitCode(report.exitCode)
    }

    /// The flags as option values (nil where not given).
    func flagValues() throws -> CollectOptionValues {
        var values = CollectOptionValues()
        try source.apply(to: &values)
        try provider.apply(to: &values)
        try requests.apply(to: &values)
        try budgets.apply(to: &values)
        try mock.apply(to: &values)
        try reporting.apply(to: &values)
        return values
    }
}
