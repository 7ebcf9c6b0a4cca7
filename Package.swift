// swift-tools-version: 6.0
import PackageDescription

#if canImport(Glibc)
import Glibc
#endif

/// The installed binaries' link (`make release`, `make install`, contrib/bench and contrib/order set
/// `HEIDI_STATIC_LINK=1` and pass `--static-swift-stdlib`): a static heidictl and heidid's flags below. Without it a
/// release build links like any SwiftPM package, so a plain `swift build -c release` works: the static link needs
/// objects compiled for the static Swift runtime (without `--static-swift-stdlib`, `-static-executable` leaves
/// FoundationEssentials' symbols undefined), and heidid's static libstdc++ must not sit next to the shared Swift
/// runtime, which loads the shared one.
let staticLink = Context.environment["HEIDI_STATIC_LINK"].map { ["1", "true", "yes"].contains($0.lowercased()) } ?? false

/// heidid's release link on Linux with `HEIDI_STATIC_LINK=1`; each flag keeps part of the executable out of the idle
/// daemon's resident memory (README.md, "Benchmarks"):
/// - `--no-export-dynamic`: the static Swift runtime's link arguments export every symbol of the executable (15,000);
///   heidid needs none, and the dynamic symbol table costs start-up relocation time and ~1 MiB resident.
/// - lld with `--symbol-ordering-file`: the functions heidid runs when it starts, supervises and answers its socket
///   (contrib/order/heidid.order, written by contrib/order/generate.sh) are placed together, so they share pages
///   instead of touching most of the 13 MiB of code: ~4 MiB less resident. Symbols the order names that no longer
///   exist are ignored, so a stale order costs memory, never correctness.
/// - libstdc++ linked statically (contrib/link/libstdc++.so, a linker script found before the shared library): the
///   shared libstdc++ cost ~1 MiB resident for the few functions the Swift runtime calls.
/// - `-z pack-relative-relocs` (DT_RELR), when this machine's glibc applies it (2.36 and later; older ones would
///   refuse to start the binary): 1.3 MiB of relocation records shrink to 11 KiB, and the loader no longer reads them.
let heididReleaseLinkFlags: [String] = {
    guard staticLink else { return [] }
    var flags = [
        "-Xlinker", "--no-export-dynamic",
        "-use-ld=lld",
        "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/contrib/order/heidid.order",
        "-Xlinker", "--no-warn-symbol-ordering",
        "-L", "\(Context.packageDirectory)/contrib/link",
    ]
    #if canImport(Glibc)
    var text = [CChar](repeating: 0, count: 64)  // "glibc 2.36"
    _ = confstr(Int32(_CS_GNU_LIBC_VERSION), &text, text.count)
    let version = String(cString: text).split(separator: " ").last?.split(separator: ".").compactMap { Int($0) } ?? []
    if version.count >= 2, (version[0], version[1]) >= (2, 36) {
        flags += ["-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"]
    }
    #endif
    return flags
}()

/// heidictl's release link on Linux with `HEIDI_STATIC_LINK=1`: one static executable, its start path's functions
/// placed together (see the heidictl target).
let heidictlReleaseLinkFlags: [String] =
    staticLink
    ? [
        "-static-executable",
        "-use-ld=lld",
        "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/contrib/order/heidictl.order",
        "-Xlinker", "--no-warn-symbol-ordering",
    ] : []

/// heidi: a supervisor daemon (`heidid`) and control CLI (`heidictl`) for the Heidi training loop.
let package = Package(
    name: "heidi",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "heidid", targets: ["heidid"]),
        .executable(name: "heidictl", targets: ["heidictl"]),
        .executable(name: "heidi-exec", targets: ["heidi-exec"]),
        .executable(name: "heidi-collect", targets: ["heidi-collect"]),
        .executable(name: "heidi-web", targets: ["heidi-web"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        // TLS for heidi-web (already in the graph through async-http-client).
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
    ],
    targets: [
        // C: what Swift cannot import from Glibc (variadics, _GNU_SOURCE APIs, W* macros).
        .target(name: "CHeidiShim"),
        // C: the exec wrapper that applies a stage's rlimits and joins its cgroup before exec (heidid never forks).
        .executableTarget(name: "heidi-exec"),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        // libgcrypt (SHA-256, HMAC-SHA256): see HeidiCore's SHA256.swift for why not OpenSSL's libcrypto.
        .systemLibrary(name: "CCrypto", pkgConfig: "libgcrypt", providers: [.apt(["libgcrypt20-dev"])]),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        // YAML documents composed over libyaml's parser, and typed field readers (config, collect templates).
        .target(name: "HeidiYAML", dependencies: ["CYAML"]),

        // Pure model: config, pipeline state machine, stage endings, events, status, redaction.
        .target(
            name: "HeidiCore",
            dependencies: ["CCrypto", "CHeidiShim", "HeidiYAML"]
        ),
        // The journal on disk: appending with fsync policies and rotation, the state-directory lock, followers,
        // retention, checkpoints and verification (including journald's heads through journalctl).
        .target(name: "HeidiJournal", dependencies: ["CCrypto", "CHeidiShim", "HeidiCore", "HeidiSupervisor"]),
        // Wire types shared by the daemon and heidictl (no NIO, so heidictl stays small and fast).
        .target(name: "HeidiAPI", dependencies: ["HeidiCore"]),
        // Real processes: spawn, groups, subreaper, pidfd reaping, kill escalation, output capture.
        .target(
            name: "HeidiSupervisor",
            dependencies: ["CHeidiShim", "HeidiCore", .product(name: "Logging", package: "swift-log")]
        ),
        // sd_notify, watchdog, socket activation, and journald: the mirror of events and child output (rate-limited
        // per stage), the log handler.
        .target(
            name: "HeidiSystemd",
            dependencies: ["CSystemd", "HeidiCore", "HeidiSupervisor", .product(name: "Logging", package: "swift-log")]
        ),
        // HTTP/1.1 control server over a Unix socket, peer-credential authorization.
        .target(
            name: "HeidiControl",
            dependencies: [
                "HeidiAPI", "HeidiCore", "CHeidiShim",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The Engine actor that drives the pipeline with real effects, and the daemon's services.
        .target(
            name: "HeidiEngine",
            dependencies: [
                "HeidiCore", "HeidiJournal", "HeidiAPI", "HeidiSupervisor", "HeidiSystemd", "HeidiControl",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Stages as Slurm batch jobs (`executor: slurm`, docs/slurm.md): sbatch/squeue/scontrol/sacct/scancel through
        // Slurm's own commands, behind the engine's launch seam (the engine knows nothing of Slurm).
        .target(
            name: "HeidiSlurm",
            dependencies: ["HeidiEngine", "HeidiCore", "HeidiSupervisor", .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "heidid",
            dependencies: [
                "HeidiEngine", "HeidiSlurm", "HeidiCore", "HeidiSystemd", "HeidiControl", "HeidiAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            linkerSettings: [.unsafeFlags(heididReleaseLinkFlags, .when(platforms: [.linux], configuration: .release))]
        ),
        // The control request path driven from raw bytes: libFuzzer target and corpus replay (contrib/fuzz).
        .target(
            name: "HeidiFuzzing",
            dependencies: [
                "HeidiControl", "HeidiAPI", "HeidiCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(name: "heidi-fuzz", dependencies: ["HeidiFuzzing", "HeidiCore"]),
        // Journal benchmarks (contrib/bench/journal-bench.sh): append rate per fsync policy, verification speed.
        .executableTarget(name: "heidi-journal-bench", dependencies: ["HeidiCore", "HeidiJournal"], path: "contrib/bench/journal"),
        // heidi-collect benchmark peer (contrib/bench/collect-bench.sh): a minimal OpenAI-compatible server on loopback.
        .executableTarget(
            name: "heidi-collect-bench-server",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "contrib/bench/collect"
        ),
        .executableTarget(
            name: "heidictl",
            dependencies: ["HeidiAPI", "HeidiCore", "HeidiJournal", "HeidiSupervisor", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            // The installed heidictl (HEIDI_STATIC_LINK=1, with --static-swift-stdlib) is one static executable: no
            // dynamic loader, no shared libraries to map and relocate, so `heidictl status` starts in about 60 % of the
            // time (contrib/bench/control-bench.sh). Not a static PIE: glibc's static-PIE start-up aborts on the
            // $ORIGIN run path SwiftPM adds to every executable. Stack, heap and mmap stay randomised. Linked by lld
            // with the order of the functions and data `heidictl status` touches (contrib/order/heidictl.order, like
            // heidid's): they share a few pages of the 15 MiB of code and 1.4 MiB of data, 92 page faults per run
            // instead of 166.
            linkerSettings: [.unsafeFlags(heidictlReleaseLinkFlags, .when(platforms: [.linux], configuration: .release))]
        ),

        // Code validation at generation time: fenced blocks, language guessing, real toolchains as supervised children.
        .target(name: "HeidiValidation", dependencies: ["HeidiSupervisor", "HeidiCore"]),
        // Teacher collection (providers, bounded fan-out, budgets, atomic output) behind `heidi-collect`; heidid never
        // links it, so the daemon stays free of the HTTP client and TLS.
        .target(
            name: "HeidiCollect",
            dependencies: [
                "HeidiValidation", "HeidiCore", "CHeidiShim",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                "HeidiYAML",
            ]
        ),
        .executableTarget(
            name: "heidi-collect",
            dependencies: [
                "HeidiCollect", "HeidiCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),

        // The fleet (issue 18): the protocol between a worker's heidi-web and the dashboard's, the dashboard's verified
        // journal copies and the worker's shipper. Used by heidi-web only.
        .target(
            name: "HeidiFleet",
            dependencies: [
                "HeidiCore", "HeidiJournal",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // heidi-web: the dashboard over TCP/TLS, a client of heidid's control socket (heidid links none of it).
        .target(
            name: "HeidiWeb",
            dependencies: [
                "HeidiAPI", "HeidiCore", "HeidiYAML", "HeidiFleet",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            resources: [
                .embedInCode("Assets/index.html"), .embedInCode("Assets/app.js"), .embedInCode("Assets/app.css"),
                .embedInCode("Assets/favicon.svg"), .embedInCode("Assets/fleet.html"), .embedInCode("Assets/fleet.js"),
                .embedInCode("Assets/fleet.css"),
            ]
        ),
        .executableTarget(
            name: "heidi-web",
            dependencies: [
                "HeidiWeb", "HeidiCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .testTarget(name: "HeidiYAMLTests", dependencies: ["HeidiYAML"]),
        .testTarget(name: "HeidiCoreTests", dependencies: ["HeidiCore", "HeidiTestSupport"]),
        .testTarget(name: "HeidiJournalTests", dependencies: ["HeidiJournal", "HeidiCore", "HeidiTestSupport"]),
        .testTarget(name: "HeidiSupervisorTests", dependencies: ["HeidiSupervisor", "HeidiCore", "HeidiTestSupport"]),
        .testTarget(name: "HeidiSystemdTests", dependencies: ["HeidiSystemd", "HeidiSupervisor", "HeidiCore", "HeidiTestSupport"]),
        .testTarget(
            name: "HeidiControlTests",
            dependencies: [
                "HeidiControl", "HeidiAPI", "HeidiCore", "HeidiFuzzing", "HeidiTestSupport",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "HeidiSlurmTests", dependencies: ["HeidiSlurm", "HeidiCore", "HeidiEngine", "HeidiSupervisor", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "HeidiEngineTests",
            dependencies: ["HeidiEngine", "HeidiCore", "HeidiJournal", "HeidiAPI", "HeidiSupervisor", "HeidiSystemd", "HeidiTestSupport"]
        ),
        // What the test targets that run the built executables share (not a product).
        .target(name: "HeidiTestSupport", dependencies: ["CHeidiShim", "HeidiCore"], path: "Tests/HeidiTestSupport"),
        .testTarget(
            name: "EndToEndTests", dependencies: ["HeidiCore", "HeidiJournal", "HeidiAPI", "HeidiTestSupport", "heidid", "heidictl", "heidi-collect"]
        ),
        // Corpus/: language-guesser and toolchain snippets, read from the source tree (not compiled, not bundled).
        .testTarget(name: "HeidiValidationTests", dependencies: ["HeidiValidation", "HeidiCore", "HeidiTestSupport"], exclude: ["Corpus"]),
        .testTarget(
            name: "HeidiCollectTests",
            dependencies: [
                "HeidiCollect", "HeidiValidation", "HeidiCore", "HeidiTestSupport", "heidi-collect",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "HeidiFleetTests", dependencies: ["HeidiFleet", "HeidiCore", "HeidiJournal", "HeidiTestSupport"]),
        .testTarget(
            name: "HeidiWebTests",
            dependencies: [
                "HeidiWeb", "HeidiCore", "HeidiTestSupport", "heidid", "heidi-web",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
    ]
)
