import HeidiCore

/// The config `heidictl init` writes: the shipped profile with the checkout (`paths.repo_root`), the interpreter
/// (`vars.python`), the helper directory (absolute, since the new file lives elsewhere) and, without a GPU, collect
/// mode filled in. Every edit replaces a line the profile is known to have; a profile without it is an error, not a
/// silently unedited file.
enum StarterConfig {
    enum RenderError: Error, CustomStringConvertible {
        case missingLine(String, profile: String)
        case missingHelper(String)

        var description: String {
            switch self {
            case .missingLine(let line, let profile): return "the profile \(profile) has no line \"\(line)\" to fill in"
            case .missingHelper(let path): return "the profile's helper \(path) does not exist"
            }
        }
    }

    static let helperReference = "{config_dir}/../contrib/heidi-engine"

    static func render(
        profile text: String,
        profilePath: String,
        checkout: String,
        python: String,
        gpus: [String]
    ) throws(RenderError) -> String {
        let helpers = FileSystem.resolve("../contrib/heidi-engine", against: FileSystem.dirname(profilePath))
        guard FileSystem.exists(helpers + "/split-train-val.sh") else {
            throw .missingHelper(helpers + "/split-train-val.sh")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        func replace(_ line: String, with replacement: [String]) throws(RenderError) {
            guard let index = lines.firstIndex(of: line) else { throw .missingLine(line, profile: profilePath) }
            lines.replaceSubrange(index...index, with: replacement)
        }
        try replace("    python: python3", with: ["    python: \(JSONText.quoted(python))"])
        if gpus.isEmpty {
            try replace(
                "  mode: full",
                with: [
                    "  # No GPU was found (nvidia-smi): rounds collect data; train with `heidictl train-now`",
                    "  # on a machine with a GPU, or set mode: full.", "  mode: collect",
                ]
            )
        }
        try replace(
            "control:",
            with: [
                "paths:", "  # The heidi-engine checkout whose scripts the stages run.",
                "  repo_root: \(JSONText.quoted(checkout))",
                "", "control:",
            ]
        )
        var header = [
            "# Written by `heidictl init` from \(profilePath)", "# for the checkout \(checkout).",
            "# GPUs: " + (gpus.isEmpty ? "none found by nvidia-smi." : gpus.joined(separator: "; ")), "#",
        ]
        header += lines
        return header.joined(separator: "\n").replacingAll(helperReference, with: helpers)
    }
}

extension String {
    fileprivate func replacingAll(_ target: String, with replacement: String) -> String {
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
