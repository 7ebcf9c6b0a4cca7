import ArgumentParser
import HeidiCore
import HeidiSupervisor

#if canImport(Glibc)
import Glibc
#endif

/// `heidictl init [CHECKOUT]`: writes a starter config that runs a heidi-engine checkout's pipeline, from the shipped
/// profile (`config/heidi-engine.yaml`) with the checkout, its virtualenv and the GPUs filled in; checks it the way
/// `heidid --check-config` does, and prints the command that starts the daemon on it. Works without a daemon.
struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Write a config that runs a heidi-engine checkout's pipeline (scripts/01..05), check it, print the next step.",
        discussion: """
            Detects the original engine's layout (scripts/01_teacher_generate.py ... 05_eval.py), a virtualenv (.venv, venv or env in the checkout, or $VIRTUAL_ENV) and GPUs (nvidia-smi, when installed). Without a GPU the pipeline runs in collect mode: rounds generate and validate data, and training waits for `heidictl train-now` on a machine that can train.
            Exit status: 0 written and checked; 1 the result has problems (printed); 2 usage error, not a checkout, or the file exists (use --force); 5 cannot write.
            """
    )

    @Argument(help: "The heidi-engine checkout (default: the current directory).")
    var checkout: String?

    @Option(name: [.short, .long], help: "Where to write the config (default: ./heidi.yaml).")
    var output = "heidi.yaml"

    @Option(
        name: .long,
        help: "The profile to start from (default: the installed or source tree's config/heidi-engine.yaml)."
    )
    var profile: String?

    @Option(
        name: .long,
        help: "The Python interpreter for the stages (default: the checkout's virtualenv, else python3)."
    )
    var python: String?

    @Flag(name: .long, help: "Overwrite an existing file.")
    var force = false

    func run() throws {
        let environment = ProcessEnvironment.current()
        let cwd = FileSystem.currentDirectory()
        let root = FileSystem.resolve(checkout ?? ".", against: cwd)
        let layout = EngineCheckout.inspect(root)
        guard layout.isCheckout else {
            printError(
                "heidictl: \(root) is not a heidi-engine checkout: it has no scripts/01_teacher_generate.py "
                    + "(give the checkout's path: heidictl init /path/to/heidi-engine)"
            )
            throw ExitCode(2)
        }
        let target = FileSystem.resolve(output, against: cwd)
        if FileSystem.exists(target) && !force {
            printError("heidictl: \(target) exists; use --force to overwrite it, or --output to write elsewhere")
            throw ExitCode(2)
        }
        guard let profilePath = profile.map({ FileSystem.resolve($0, against: cwd) }) ?? ProfileLocator.find() else {
            printError(
                "heidictl: cannot find the profile config/heidi-engine.yaml next to heidictl; give it with --profile"
            )
            throw ExitCode(2)
        }
        let interpreter = python ?? EngineCheckout.virtualenvPython(root, environment: environment) ?? "python3"
        let gpus = GPUProbe.list()
        let text: String
        do {
            let template = String(decoding: try FileSystem.read(profilePath), as: UTF8.self)
            text = try StarterConfig.render(
                profile: template,
                profilePath: profilePath,
                checkout: root,
                python: interpreter,
                gpus: gpus
            )
        } catch let error as StarterConfig.RenderError {
            printError("heidictl: \(error)")
            throw ExitCode(2)
        } catch {
            printError("heidictl: cannot read the profile \(profilePath): \(error)")
            throw ExitCode(2)
        }
        do { try FileSystem.writeAtomically(target, Array(text.utf8), mode: 0o644) } catch {
            printError("heidictl: cannot write \(target): \(error)")
            throw ExitCode(5)
        }
        print("wrote \(target)")
        print(
            "  checkout  \(root)\(layout.missing.isEmpty ? "" : " (missing: \(layout.missing.joined(separator: ", ")))")"
        )
        print("  python    \(interpreter)")
        print(
            "  GPUs      \(gpus.isEmpty ? "none found (nvidia-smi): mode collect; train with `heidictl train-now` where a GPU is" : gpus.joined(separator: "; "))"
        )
        let config: HeidiConfig
        do { config = try ConfigLoader.load(path: target, environment: environment) } catch {
            printError("heidictl: the written config does not load: \(error)")
            throw ExitCode(1)
        }
        let problems = ConfigCheck.warnings(config, environment: environment)
        for problem in problems { printError("heidictl: \(target): \(problem)") }
        print(
            problems.isEmpty
                ? "checked: every stage's program and script is in place"
                : "checked: \(problems.count) problem(s), see above"
        )
        print("next:")
        print("  heidid --config \(target)")
        print("  heidictl --config \(target) start        # in another shell; then heidictl --config \(target) status")
        if !problems.isEmpty { throw ExitCode(1) }
    }
}

/// What `heidictl init` finds in a checkout.
enum EngineCheckout {
    static let scripts = [
        "01_teacher_generate.py", "02_validate_clean.py", "03_unit_test_gate.py", "04_train_qlora.py", "05_eval.py",
    ]

    struct Layout {
        var isCheckout: Bool
        var missing: [String]
    }

    static func inspect(_ root: String) -> Layout {
        let missing =
            scripts.filter { !FileSystem.exists("\(root)/scripts/\($0)") }.map { "scripts/\($0)" }
            + (FileSystem.isDirectory(root + "/heidi_engine") ? [] : ["heidi_engine/"])
        return Layout(isCheckout: FileSystem.exists(root + "/scripts/01_teacher_generate.py"), missing: missing)
    }

    /// The interpreter of the checkout's virtualenv, or of the active one.
    static func virtualenvPython(_ root: String, environment: [String: String]) -> String? {
        let candidates =
            [".venv", "venv", "env"].map { "\(root)/\($0)/bin/python" }
            + (environment["VIRTUAL_ENV"].map { ["\($0)/bin/python"] } ?? [])
        return candidates.first { access($0, X_OK) == 0 }
    }
}

/// GPUs as `nvidia-smi` lists them (none when it is not installed or finds none).
enum GPUProbe {
    static func list() -> [String] {
        let argv = ["nvidia-smi", "--query-gpu=index,name,memory.total", "--format=csv,noheader"]
        guard let result = try? CommandRunner.run(argv), result.status == 0 else { return [] }
        return String(decoding: result.stdout, as: UTF8.self).split(separator: "\n").map { String($0) }.filter {
            !$0.isEmpty
        }
    }
}

/// Finds the shipped profile: installed (`<prefix>/share/heidi/config`) or in the source tree heidictl was built in.
enum ProfileLocator {
    static func find() -> String? {
        guard let resolved = realpath("/proc/self/exe", nil) else { return nil }
        var directory = FileSystem.dirname(String(cString: resolved))
        free(resolved)
        for _ in 0..<5 {
            for candidate in [
                "\(directory)/config/heidi-engine.yaml", "\(directory)/share/heidi/config/heidi-engine.yaml",
            ]
            where FileSystem.exists(candidate) {
                return candidate
            }
            directory = FileSystem.dirname(directory)
        }
        return nil
    }
}
