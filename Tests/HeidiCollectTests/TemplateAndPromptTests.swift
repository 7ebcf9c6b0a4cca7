import HeidiCore
import Testing

@testable import HeidiCollect

@Suite("Templates and prompt files")
struct TemplateAndPromptTests {
    @Test func shippedTemplatesLoadForEveryLanguage() throws {
        let sets = try TemplateLoader.load(Fixtures.templatesDirectory)
        #expect(sets.map(\.language) == ["cpp", "go", "javascript", "python"])
        let tasks = TemplateLoader.tasks(from: sets, samples: 8, seed: 42, round: 3)
        #expect(tasks.map(\.language) == ["cpp", "go", "javascript", "python", "cpp", "go", "javascript", "python"])
        #expect(tasks.map(\.id).first == "round_3_0000")
        for task in tasks {
            #expect(!task.instruction.contains("{"), "unfilled placeholder in \(task.instruction)")
            #expect(task.system.contains("```\(task.language)"))
        }
    }

    @Test func expansionDependsOnlyOnTheSeed() throws {
        let sets = try TemplateLoader.load(Fixtures.templatesDirectory, languages: ["py"])
        #expect(sets.count == 1)
        let first = TemplateLoader.tasks(from: sets, samples: 30, seed: 7, round: 1)
        let again = TemplateLoader.tasks(from: sets, samples: 30, seed: 7, round: 1)
        let other = TemplateLoader.tasks(from: sets, samples: 30, seed: 8, round: 1)
        #expect(first == again)
        #expect(first != other)
        #expect(Set(first.map(\.taskType)).count > 1, "templates are drawn, not fixed")
    }

    @Test func placeholderTypoNamesFileLineAndKey() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write(
            "bad.yaml",
            """
            language: python
            templates:
              - task_type: code_completion
                instruction: "Write {nmae}"
            topics:
              - name: f
            """
        )
        #expect {
            try TemplateLoader.load(path)
        } throws: { error in
            let text = String(describing: error)
            return text.contains("bad.yaml:") && text.contains("templates[0].instruction") && text.contains("{nmae}")
        }
    }

    @Test func unknownKeysAndMissingLanguageAreErrors() throws {
        let dir = try TemporaryDirectory()
        let unknown = try dir.write("a.yaml", "language: go\ntemplate: []\n")
        #expect(throws: PromptSourceError.self) { try TemplateLoader.load(unknown) }
        let missing = try dir.write(
            "b.yaml",
            "templates:\n  - {task_type: t, instruction: x}\ntopics:\n  - {name: n}\n"
        )
        #expect {
            try TemplateLoader.load(missing)
        } throws: { String(describing: $0).contains("language") }
        #expect {
            try TemplateLoader.load(dir.path, languages: ["rust"])
        } throws: { String(describing: $0).contains("a.yaml") }
    }

    @Test func promptFileLinesBecomeTasks() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write(
            "p.jsonl",
            """
            {"instruction":"Fix it","input":"x = 1","language":"c++","task_type":"bug_fixing","extra":1}

            {"instruction":"Explain","id":"custom-7"}
            """
        )
        let tasks = try PromptFileLoader.load(path, defaultLanguage: "go", round: 2)
        #expect(tasks.count == 2)
        #expect(tasks[0].language == "cpp")
        #expect(tasks[0].taskType == "bug_fixing")
        #expect(tasks[0].id == "round_2_0000")
        #expect(tasks[0].userMessage == "Fix it\n\nx = 1")
        #expect(tasks[1].language == "go")
        #expect(tasks[1].taskType == "general")
        #expect(tasks[1].id == "custom-7")
        #expect(tasks[1].index == 1)
        #expect(try PromptFileLoader.load(path, defaultLanguage: "go", round: 2, limit: 1).count == 1)
    }

    @Test func badPromptLinesNameTheLine() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("p.jsonl", "{\"instruction\":\"ok\"}\n{\"instruction\": 5}\n")
        #expect(
            throws: PromptSourceError.invalidPrompt(path: path, line: 2, message: "\"instruction\" must be a string")
        ) {
            try PromptFileLoader.load(path, defaultLanguage: "python", round: 1)
        }
        let broken = try dir.write("q.jsonl", "{\"instruction\":\"ok\"}\n\n{oops\n")
        #expect {
            try PromptFileLoader.load(broken, defaultLanguage: "python", round: 1)
        } throws: { String(describing: $0).hasPrefix(broken + ":3: not valid JSON") }
        let empty = try dir.write("e.jsonl", "\n\n")
        #expect(throws: PromptSourceError.empty(path: empty)) {
            try PromptFileLoader.load(empty, defaultLanguage: "python", round: 1)
        }
    }
}
