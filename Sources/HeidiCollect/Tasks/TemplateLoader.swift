import HeidiCore
import HeidiYAML

#if canImport(Glibc)
import Glibc
#endif

/// Loads `TemplateSet`s from a template file or a directory of `*.yaml`/`*.yml` files and expands them into tasks.
public enum TemplateLoader {
    /// The template sets at `path` (a file, or every YAML file of a directory in name order), keeping only
    /// `languages` when it is not empty.
    public static func load(_ path: String, languages: [String] = []) throws(PromptSourceError) -> [TemplateSet] {
        let files: [String]
        if FileSystem.isDirectory(path) {
            files = try yamlFiles(in: path)
            guard !files.isEmpty else {
                throw .noTemplates(path: path, detail: "no *.yaml or *.yml file in the directory")
            }
        } else {
            files = [path]
        }
        var sets: [TemplateSet] = []
        for file in files { sets.append(try parse(file)) }
        let wanted = Set(languages.map(Languages.normalize))
        guard !wanted.isEmpty else { return sets }
        let kept = sets.filter { wanted.contains($0.language) }
        guard !kept.isEmpty else {
            let available = sets.map(\.language).joined(separator: ", ")
            throw .noTemplates(
                path: path,
                detail: "none for \(wanted.sorted().joined(separator: ", ")); available: \(available)"
            )
        }
        return kept
    }

    /// `samples` tasks: languages take turns (in file order), template and topic are drawn from the seed.
    public static func tasks(from sets: [TemplateSet], samples: Int, seed: UInt64, round: Int) -> [PromptTask] {
        guard !sets.isEmpty else { return [] }
        return (0..<samples).map { sets[$0 % sets.count].task(index: $0, seed: seed, round: round) }
    }

    static func yamlFiles(in directory: String) throws(PromptSourceError) -> [String] {
        let entries: [String]
        do throws(FileSystemError) { entries = try FileSystem.entries(of: directory) } catch {
            throw .unreadable(path: directory, reason: errnoDescription(error.errno))
        }
        let names = entries.filter { !$0.hasPrefix(".") && ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) }
        return names.sorted().map { directory.hasSuffix("/") ? directory + $0 : directory + "/" + $0 }
    }

    /// Parses one template file.
    public static func parse(_ path: String) throws(PromptSourceError) -> TemplateSet {
        let bytes: [UInt8]
        do throws(FileSystemError) { bytes = try FileSystem.read(path) } catch {
            throw .unreadable(path: path, reason: errnoDescription(error.errno))
        }
        do throws(YAMLFieldError) { return try parse(String(decoding: bytes, as: UTF8.self), path: path) } catch {
            throw .invalidTemplate(path: error.path, line: error.line, key: error.key, message: error.message)
        }
    }

    static func parse(_ text: String, path: String) throws(YAMLFieldError) -> TemplateSet {
        let yaml = YAMLFields(path: path)
        guard let root = try yaml.document(text) else { throw yaml.fail(nil, "", "the file is empty") }
        var language: String?
        var system: String?
        var templates: [TemplateSet.Template] = []
        var topics: [[String: String]] = []
        var templatesNode: YAMLNode?
        var topicsNode: YAMLNode?
        for (key, value, name) in try yaml.mapping(root, "") {
            switch name {
            case "language": language = Languages.normalize(try yaml.string(value, key))
            case "system": system = try yaml.string(value, key)
            case "templates":
                templatesNode = value
                for (offset, item) in try yaml.sequence(value, key).enumerated() {
                    templates.append(try template(item, "templates[\(offset)]", yaml))
                }
            case "topics":
                topicsNode = value
                for (offset, item) in try yaml.sequence(value, key).enumerated() {
                    var topic: [String: String] = [:]
                    for (entryKey, entryValue, entryName) in try yaml.mapping(item, "topics[\(offset)]") {
                        topic[entryName] = try yaml.string(entryValue, entryKey)
                    }
                    guard topic["name"].map({ !$0.isEmpty }) == true else {
                        throw yaml.fail(item, "topics[\(offset)]", "a topic needs a non-empty name")
                    }
                    topics.append(topic)
                }
            default: throw yaml.fail(value, key, "unknown key (known: language, system, templates, topics)")
            }
        }
        guard let language, !language.isEmpty else {
            throw yaml.fail(root, "language", "missing (e.g. language: python)")
        }
        guard !templates.isEmpty else {
            throw yaml.fail(templatesNode ?? root, "templates", "needs at least one template")
        }
        guard !topics.isEmpty else { throw yaml.fail(topicsNode ?? root, "topics", "needs at least one topic") }
        // Every placeholder must be known for every topic: a typo should fail here, not reach the teacher.
        for (offset, template) in templates.enumerated() {
            let texts = [("instruction", template.instruction), ("input", template.input), ("system", system ?? "")]
            for (field, text) in texts {
                for name in Placeholder.names(in: text) where name != "language" {
                    if let missing = topics.first(where: { $0[name] == nil }) {
                        let key = field == "system" ? "system" : "templates[\(offset)].\(field)"
                        throw yaml.fail(
                            templatesNode,
                            key,
                            "placeholder {\(name)} is not a key of topic \(missing["name"] ?? "?")"
                        )
                    }
                }
            }
        }
        return TemplateSet(path: path, language: language, system: system, templates: templates, topics: topics)
    }

    private static func template(
        _ node: YAMLNode,
        _ prefix: String,
        _ yaml: YAMLFields
    ) throws(YAMLFieldError) -> TemplateSet.Template {
        var taskType: String?
        var instruction: String?
        var input = ""
        for (key, value, name) in try yaml.mapping(node, prefix) {
            switch name {
            case "task_type": taskType = try yaml.string(value, key)
            case "instruction": instruction = try yaml.string(value, key)
            case "input": input = try yaml.string(value, key)
            default: throw yaml.fail(value, key, "unknown key (known: task_type, instruction, input)")
            }
        }
        guard let taskType, !taskType.isEmpty else { throw yaml.fail(node, prefix + ".task_type", "missing") }
        guard let instruction, !instruction.isEmpty else { throw yaml.fail(node, prefix + ".instruction", "missing") }
        return TemplateSet.Template(taskType: taskType, instruction: instruction, input: input)
    }
}
