import HeidiCore
import Testing

@testable import HeidiCollect

#if canImport(Glibc)
import Glibc
#endif

@Suite("Config file and option resolution")
struct OptionTests {
    @Test func configFileKeysMirrorTheFlags() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write(
            "collect.yaml",
            """
            provider: openai
            model: gpt-4o
            templates: templates/
            samples: 1_000
            output: data/raw.jsonl
            timeout: 45s
            backoff: 250ms
            max_cost: 2.5
            languages: [python, go]
            validate: false
            """
        )
        let values = try CollectConfigFile.load(path)
        #expect(values.provider == "openai")
        #expect(values.samples == 1000)
        #expect(values.timeout == 45)
        #expect(values.backoff == 0.25)
        #expect(values.maxCost == 2.5)
        #expect(values.languages == ["python", "go"])
        #expect(values.validate == false)
        #expect(values.templates == dir.path + "/templates", "relative to the config file")
        #expect(values.output == dir.path + "/data/raw.jsonl")
        var flags = CollectOptionValues()
        flags.samples = 5
        let merged = flags.overriding(values)
        #expect(merged.samples == 5)
        #expect(merged.model == "gpt-4o")
    }

    @Test func configFileErrorsNameFileLineAndKey() throws {
        let dir = try TemporaryDirectory()
        let unknown = try dir.write("a.yaml", "provider: mock\nconcurency: 4\n")
        #expect {
            try CollectConfigFile.load(unknown)
        } throws: { String(describing: $0).hasPrefix(unknown + ":2: concurency: unknown key") }
        let badDuration = try dir.write("b.yaml", "timeout: soon\n")
        #expect {
            try CollectConfigFile.load(badDuration)
        } throws: { String(describing: $0).contains("timeout: invalid duration soon") }
        let inline = try dir.write("c.yaml", "api_key: sk-not-here\n")
        #expect {
            try CollectConfigFile.load(inline)
        } throws: { error in
            let text = String(describing: error)
            return text.contains("api_key_file") && !text.contains("sk-not-here")
        }
    }

    func values(
        _ dir: TemporaryDirectory,
        _ change: (inout CollectOptionValues) -> Void = { _ in }
    ) -> CollectOptionValues {
        var values = CollectOptionValues()
        values.provider = "mock"
        values.templates = Fixtures.templatesDirectory
        values.samples = 4
        values.output = dir.file("out.jsonl")
        change(&values)
        return values
    }

    func failure(_ values: CollectOptionValues, environment: [String: String] = [:]) -> String? {
        do {
            _ = try JobBuilder.build(values, environment: environment)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func defaultsProduceAJob() throws {
        let dir = try TemporaryDirectory()
        let resolved = try JobBuilder.build(
            values(dir),
            environment: ["HEIDI_ROUND": "4", "HEIDI_NOTIFY_SOCKET": "@x"]
        )
        #expect(resolved.job.tasks.count == 4)
        #expect(resolved.job.round == 4)
        #expect(resolved.job.tasks[0].id == "round_4_0000")
        #expect(resolved.job.settings.seed == 42)
        #expect(resolved.job.settings.concurrency == 16)
        #expect(resolved.job.provider.name == "mock")
        #expect(resolved.job.progress.notifyAddress == "@x")
    }

    @Test func errorsNameTheFlag() throws {
        let dir = try TemporaryDirectory()
        #expect(failure(values(dir) { $0.provider = nil })?.hasPrefix("--provider: required") == true)
        #expect(failure(values(dir) { $0.provider = "anthropic" })?.contains("unknown provider anthropic") == true)
        #expect(failure(values(dir) { $0.output = nil })?.hasPrefix("--output") == true)
        let notADirectory = try dir.write("plain-file", "x")
        #expect(
            failure(values(dir) { $0.output = notADirectory + "/x.jsonl" })?.contains(
                "cannot create directory \(notADirectory)"
            ) == true
        )
        #expect(failure(values(dir) { $0.prompts = "/tmp/p.jsonl" })?.hasPrefix("--prompts: give either") == true)
        #expect(failure(values(dir) { $0.templates = nil })?.hasPrefix("--templates: give") == true)
        #expect(failure(values(dir) { $0.templates = dir.file("none") })?.contains(dir.file("none")) == true)
        #expect(failure(values(dir) { $0.concurrency = 0 })?.hasPrefix("--concurrency") == true)
        #expect(
            failure(values(dir) { $0.maxCost = 1 })?.hasPrefix("--max-cost: model mock-teacher has no known price")
                == true
        )
        #expect(failure(values(dir) { $0.priceInput = 1 })?.hasPrefix("--price-output") == true)
        #expect(
            failure(
                values(dir) {
                    $0.provider = "openai"
                    $0.baseURL = "localhost:8000"
                }
            )?.hasPrefix("--base-url") == true
        )
        #expect(
            failure(
                values(dir) {
                    $0.provider = "openai"
                    $0.apiKeyEnv = "NO_SUCH_KEY_VAR"
                }
            )?.contains("--api-key-env NO_SUCH_KEY_VAR") == true
        )
        #expect(failure(values(dir), environment: ["HEIDI_ROUND": "x"])?.hasPrefix("--round") == true)
    }

    /// `--provider mock --max-cost` with a model of the README's price table rehearses that model's cost.
    @Test func mockRunsArePricedLikeTheirModel() throws {
        let dir = try TemporaryDirectory()
        let resolved = try JobBuilder.build(
            values(dir) {
                $0.model = "gpt-4o-mini"
                $0.maxCost = 0.01
            },
            environment: [:]
        )
        #expect(resolved.job.settings.price == Pricing.defaults["gpt-4o-mini"])
        #expect(resolved.job.settings.budget.maxCostUSD == 0.01)
        let dated = try JobBuilder.build(
            values(dir) {
                $0.model = "claude-3-haiku-20240307"
                $0.maxCost = 1
            },
            environment: [:]
        )
        #expect(dated.job.settings.price == Pricing.defaults["claude-3-haiku"])
        #expect(
            failure(
                values(dir) {
                    $0.model = "my-local-model"
                    $0.maxCost = 1
                }
            )?.contains("or a --model of the price table") == true
        )
    }

    @Test func keyFilesMustBePrivate() throws {
        let dir = try TemporaryDirectory()
        let secret = "file-secret-\(UInt64.random(in: 1...UInt64.max))"
        let open = try dir.write("open.key", secret + "\n", mode: 0o644)
        let message = failure(
            values(dir) {
                $0.provider = "openai"
                $0.apiKeyFile = open
            }
        )
        #expect(message?.contains("chmod 600") == true)
        #expect(message?.contains(secret) == false)
        let closed = try dir.write("closed.key", secret + "\n", mode: 0o640)
        let key = try APIKeyLoader.fromFile(closed)
        #expect(key.value == secret)
        #expect(!String(describing: key).contains(secret))
        let empty = try dir.write("empty.key", "\n", mode: 0o600)
        #expect(throws: APIKeyError.empty(source: empty)) { try APIKeyLoader.fromFile(empty) }
    }
}
