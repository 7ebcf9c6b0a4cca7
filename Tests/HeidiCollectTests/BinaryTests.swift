import HeidiCore
import Testing

@testable import HeidiCollect

#if canImport(Glibc)
import Glibc
#endif

/// The built `heidi-collect` executable: exit codes, signals, atomic output, secrets, the progress channel.
@Suite("heidi-collect binary")
struct BinaryTests {
    /// The mock provider without toolchain validation: these tests are about collection, counts and files
    /// (`validationRejectsBrokenAnswers` covers validation).
    func mockArguments(_ dir: TemporaryDirectory, samples: Int = 20, output: String = "out.jsonl") -> [String] {
        [
            "--provider", "mock", "--templates", Fixtures.templatesDirectory, "--samples", String(samples),
            "--output", dir.file(output), "--mock-latency", "5ms", "--quiet", "--no-validate",
        ]
    }

    @Test func validationRejectsBrokenAnswersWithTheRealToolchains() async throws {
        let dir = try TemporaryDirectory()
        let arguments = [
            "--provider", "mock", "--templates", Fixtures.templatesDirectory, "--samples", "16",
            "--output", dir.file("out.jsonl"), "--mock-latency", "5ms", "--mock-invalid-rate", "0.5", "--seed", "3",
        ]
        let result = try await CollectProcess.run(arguments, directory: dir.path)
        #expect(result.status == 0, "\(result)")
        let records = try Fixtures.records(dir.file("out.jsonl"))
        #expect(
            !records.isEmpty && records.count < 16,
            "about half the answers are broken on purpose: \(records.count) kept"
        )
        let kept = try FileSystem.read(dir.file("out.jsonl"))
        #expect(String(decoding: kept, as: UTF8.self).contains("\"validator\":\"toolchains\""))
        #expect(result.stderr.contains("rejected"), "\(result.stderr)")
    }

    @Test func usageErrorsExitTwoAndNameTheFlag() async throws {
        let dir = try TemporaryDirectory()
        let missing = try await CollectProcess.run(
            ["--provider", "mock", "--templates", Fixtures.templatesDirectory],
            directory: dir.path
        )
        #expect(missing.status == CollectExitCode.usage)
        #expect(missing.stderr.contains("--output"))
        let badDuration = try await CollectProcess.run(mockArguments(dir) + ["--timeout", "soon"], directory: dir.path)
        #expect(badDuration.status == 2)
        #expect(badDuration.stderr.contains("--timeout: invalid duration soon"))
        let unknownFlag = try await CollectProcess.run(["--frobnicate"], directory: dir.path)
        #expect(unknownFlag.status == 2)
        let badConfig = try dir.write("c.yaml", "provider: mock\nsampels: 3\n")
        let config = try await CollectProcess.run(["--config", badConfig], directory: dir.path)
        #expect(config.status == 2)
        #expect(config.stderr.contains("c.yaml:2: sampels: unknown key"))
        let help = try await CollectProcess.run(["--help"], directory: dir.path)
        #expect(help.status == 0)
        #expect(help.stdout.contains("Exit status:"))
        #expect(help.stdout.contains("3    a budget"))
    }

    @Test func sameSeedSameBytes() async throws {
        let dir = try TemporaryDirectory()
        let common = [
            "--mock-failure-rate", "0.3", "--mock-jitter", "2", "--retries", "10", "--backoff", "1ms",
            "--concurrency", "8", "--seed", "1234",
        ]
        let first = try await CollectProcess.run(
            mockArguments(dir, samples: 40, output: "a.jsonl") + common,
            directory: dir.path
        )
        let second = try await CollectProcess.run(
            mockArguments(dir, samples: 40, output: "b.jsonl") + common,
            directory: dir.path
        )
        #expect(first.status == 0, "\(first)")
        #expect(second.status == 0, "\(second)")
        let a = try FileSystem.read(dir.file("a.jsonl"))
        #expect(a == (try FileSystem.read(dir.file("b.jsonl"))))
        #expect(try Fixtures.records(dir.file("a.jsonl")).count == 40)
        let other = try await CollectProcess.run(
            mockArguments(dir, samples: 40, output: "c.jsonl") + ["--seed", "1235"],
            directory: dir.path
        )
        #expect(other.status == 0)
        #expect(try FileSystem.read(dir.file("c.jsonl")) != a)
    }

    @Test func budgetExitCodeAndAValidPartialFile() async throws {
        let dir = try TemporaryDirectory()
        let result = try await CollectProcess.run(
            mockArguments(dir, samples: 30) + ["--max-requests", "9", "--concurrency", "3"],
            directory: dir.path
        )
        #expect(result.status == CollectExitCode.budgetExhausted, "\(result)")
        #expect(result.stderr.contains("budget exhausted"))
        #expect(try Fixtures.records(dir.file("out.jsonl")).count == 9)
        #expect(dir.entries == ["out.jsonl"])

        // About $0.11 per request at worst: a few requests fit.
        let cost = try await CollectProcess.run(
            mockArguments(dir, samples: 30, output: "cost.jsonl")
                + ["--max-cost", "0.5", "--price-input", "100", "--price-output", "100"],
            directory: dir.path
        )
        #expect(cost.status == CollectExitCode.budgetExhausted, "\(cost)")
        #expect(cost.stderr.contains("--max-cost 0.5"))
        #expect((1..<30).contains(try Fixtures.records(dir.file("cost.jsonl")).count))
    }

    /// At $0.55 a request at worst, $0.50 cannot pay for one: nothing is sent and no (empty) file is written.
    @Test func aBudgetTooSmallForOneRequestWritesNoFile() async throws {
        let dir = try TemporaryDirectory()
        let result = try await CollectProcess.run(
            mockArguments(dir, samples: 30) + [
                "--max-cost", "0.5", "--price-input", "500",
                "--price-output", "500",
            ],
            directory: dir.path
        )
        #expect(result.status == CollectExitCode.usage, "\(result)")
        #expect(
            result.stderr.contains("too small for a single request, so none was sent; nothing written to"),
            "\(result)"
        )
        #expect(result.stderr.contains("--max-cost 0.5"), "\(result)")
        #expect(dir.entries == [], "no output file")
    }

    @Test func budgetStopCanBeTheIntendedLimitAndOutputDirectoriesAreCreated() async throws {
        let dir = try TemporaryDirectory()
        let output = dir.file("run/data/raw_round_1.jsonl")
        let result = try await CollectProcess.run(
            [
                "--provider", "mock", "--templates", Fixtures.templatesDirectory, "--samples", "10", "--output", output,
                "--mock-latency", "1ms", "--max-requests", "4", "--concurrency", "2", "--budget-exhausted-ok",
                "--no-validate",
            ],
            directory: dir.path
        )
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.contains("budget exhausted"))
        #expect(try Fixtures.records(output).count == 4)
    }

    @Test func allRequestsFailingExitsFourAndWritesNothing() async throws {
        let dir = try TemporaryDirectory()
        let result = try await CollectProcess.run(
            mockArguments(dir, samples: 5) + [
                "--mock-failure-rate", "1", "--retries", "1",
                "--backoff", "1ms",
            ],
            directory: dir.path
        )
        #expect(result.status == CollectExitCode.providerFailed, "\(result)")
        #expect(result.stderr.contains("every request failed"))
        #expect(dir.entries.isEmpty)
    }

    @Test(arguments: [(SIGTERM, Int32(143)), (SIGINT, Int32(130))])
    func signalMidRunLeavesNoPartialOutput(signal: Int32, expected: Int32) async throws {
        let dir = try TemporaryDirectory()
        let output = dir.file("out.jsonl")
        try FileSystem.writeAtomically(output, Array("{\"previous\":true}\n".utf8))
        let process = try CollectProcess(
            [
                "--provider", "mock", "--templates", Fixtures.templatesDirectory, "--samples", "200", "--output",
                output,
                "--mock-latency", "20s", "--concurrency", "50",
            ],
            directory: dir.path
        )
        // Wait until it is running (it announces the run on stderr), then interrupt it.
        let deadline = ContinuousClock.now + .seconds(30)
        while !process.stderrSoFar.contains("200 prompts"), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Task.sleep(for: .milliseconds(100))
        process.signal(signal)
        let result = try await process.wait(timeout: 20)
        #expect(result.status == expected, "\(result)")
        #expect(result.stderr.contains("nothing written"))
        #expect(try FileSystem.read(output) == Array("{\"previous\":true}\n".utf8), "the previous output is untouched")
        #expect(
            dir.entries.filter { !$0.hasPrefix(".stdout-") && !$0.hasPrefix(".stderr-") } == ["out.jsonl"],
            "no temporary file"
        )
    }

    @Test func theKeyNeverAppearsInStderrOrOutput() async throws {
        let key = "sk-proj-\(UInt64.random(in: 1...UInt64.max))leakcheckABCDEFGHIJKLMNOP"
        let server = try await OpenAITestServer.start { n, _ in
            switch n % 3 {
            case 1:
                return .status(
                    500,
                    body: "<html><body>upstream said: key \(key) is over quota</body></html>",
                    contentType: "text/html"
                )
            case 2:
                return .raw(
                    "<!DOCTYPE html><p>proxy error for Authorization: Bearer \(key)</p>",
                    contentType: "text/html"
                )
            default: return .status(401, body: #"{"error":{"message":"Incorrect API key provided: \#(key)"}}"#)
            }
        }
        let dir = try TemporaryDirectory()
        let result = try await CollectProcess.run(
            [
                "--provider", "openai", "--base-url", server.baseURL, "--model", "gpt-4o-mini", "--prompts",
                try Fixtures.promptFile(6, in: dir), "--output", dir.file("out.jsonl"), "--retries", "2", "--backoff",
                "1ms",
                "--concurrency", "1", "--progress-interval", "1ms",
            ],
            environment: ["OPENAI_API_KEY": key],
            directory: dir.path
        )
        await server.stop()
        #expect(result.status == CollectExitCode.providerFailed, "\(result)")
        #expect(server.requests.contains { $0.authorization == "Bearer \(key)" })
        #expect(!result.stderr.contains(key))
        #expect(!result.stdout.contains(key))
        #expect(result.stderr.contains("HTTP 500"))
        #expect(result.stderr.contains("check the API key"))
        #expect(!dir.entries.contains("out.jsonl"))

        // A key that looks like nothing in particular, from a file, in a run that succeeds.
        let plainKey = "plain\(UInt64.random(in: 1...UInt64.max))secret"
        let keyFile = try dir.write("key", plainKey + "\n", mode: 0o600)
        let echo = try await OpenAITestServer.start { _, body in
            .completion(content: "echo: " + String(body.prefix(40)))
        }
        let ok = try await CollectProcess.run(
            [
                "--provider", "openai", "--base-url", echo.baseURL, "--prompts", try Fixtures.promptFile(3, in: dir),
                "--output", dir.file("out.jsonl"), "--api-key-file", keyFile, "--progress-interval", "1ms",
            ],
            directory: dir.path
        )
        await echo.stop()
        #expect(ok.status == 0, "\(ok)")
        #expect(echo.requests.allSatisfy { $0.authorization == "Bearer \(plainKey)" })
        #expect(!ok.stderr.contains(plainKey))
        #expect(!String(decoding: try FileSystem.read(dir.file("out.jsonl")), as: UTF8.self).contains(plainKey))
    }

    @Test func openKeyFilesAreRefused() async throws {
        let dir = try TemporaryDirectory()
        let keyFile = try dir.write("key", "sk-whatever-0123456789abcdefghij\n", mode: 0o604)
        let result = try await CollectProcess.run(
            [
                "--provider", "openai", "--base-url", "http://127.0.0.1:9/v1", "--prompts",
                try Fixtures.promptFile(1, in: dir),
                "--output", dir.file("out.jsonl"), "--api-key-file", keyFile,
            ],
            directory: dir.path
        )
        #expect(result.status == CollectExitCode.usage)
        #expect(result.stderr.contains("chmod 600"))
        #expect(!result.stderr.contains("0123456789abcdefghij"))
    }

    @Test(arguments: [false, true])
    func progressChannelIncrementsSumToTheTotals(abstract: Bool) async throws {
        let dir = try TemporaryDirectory()
        let address =
            abstract ? "@heidi-collect-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))" : dir.file("notify.sock")
        let listener = try DatagramListener(address: address)
        let result = try await CollectProcess.run(
            mockArguments(dir, samples: 60) + [
                "--mock-latency", "20ms", "--concurrency", "4", "--mock-failure-rate", "0.3",
                "--retries", "1", "--backoff", "1ms", "--keep-rejected",
            ],
            environment: ["HEIDI_NOTIFY_SOCKET": address],
            directory: dir.path
        )
        #expect(result.status == 0, "\(result)")
        let datagrams = listener.drain()
        #expect(datagrams.count >= 2, "periodic datagrams plus the final one: \(datagrams)")
        var counters: [String: Int] = [:]
        var usage: [String: Int] = [:]
        var statuses: [String] = []
        for datagram in datagrams {
            for line in datagram.split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else {
                    Issue.record("not KEY=VALUE: \(line)")
                    continue
                }
                switch parts[0] {
                case "STATUS": statuses.append(parts[1])
                case "X_HEIDI_COUNTERS", "X_HEIDI_USAGE":
                    guard case .object(let members) = try StrictJSONParser.parse(Array(parts[1].utf8)) else {
                        Issue.record("not an object: \(parts[1])")
                        continue
                    }
                    for (name, value) in members {
                        guard case .number(let literal) = value, let number = Int(literal) else {
                            Issue.record("\(name) is not an integer: \(value)")
                            continue
                        }
                        #expect(number > 0, "increments only")
                        if parts[0] == "X_HEIDI_COUNTERS" {
                            counters[name, default: 0] += number
                        } else {
                            usage[name, default: 0] += number
                        }
                    }
                default: Issue.record("unexpected key \(parts[0])")
                }
            }
        }
        #expect(statuses.first?.hasPrefix("generating ") == true)
        #expect(statuses.last?.hasPrefix("done 60/60") == true, "\(statuses)")
        let records = try Fixtures.records(dir.file("out.jsonl"))
        let failed = counters["teacher_failed", default: 0]
        #expect(counters["teacher_generated", default: 0] + failed == 60)
        #expect(counters["raw_written"] == records.count)
        #expect(counters["teacher_generated"] == records.count)
        #expect(usage["requests_sent", default: 0] == 60 + usage["retries", default: 0])
        let inputTokens = records.reduce(0) { $0 + Int($1["metadata"]?["usage"]?["input_tokens"]?.int64Value ?? 0) }
        let outputTokens = records.reduce(0) { $0 + Int($1["metadata"]?["usage"]?["output_tokens"]?.int64Value ?? 0) }
        #expect(usage["input_tokens"] == inputTokens)
        #expect(usage["output_tokens"] == outputTokens)
        #expect(
            result.stderr.contains("\(usage["requests_sent", default: 0]) requests"),
            "the summary agrees with the datagrams"
        )
    }

    @Test func noListenerNeverFailsTheRun() async throws {
        let dir = try TemporaryDirectory()
        let result = try await CollectProcess.run(
            mockArguments(dir, samples: 5),
            environment: ["HEIDI_NOTIFY_SOCKET": dir.file("nobody-listens.sock")],
            directory: dir.path
        )
        #expect(result.status == 0, "\(result)")
        #expect(try Fixtures.records(dir.file("out.jsonl")).count == 5)
    }
}
