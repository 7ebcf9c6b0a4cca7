/// What to do with each block of an answer, decided before any toolchain runs. Pure: `ValidationPlanner` makes it
/// from the blocks alone, so the rules are table-tested without processes.
struct ValidationPlan: Sendable, Equatable {
    /// A rejection of the whole answer that needs no check (`no_code_block`, or `unsupported_language` for an
    /// expected language heidi does not check).
    var rejection: String?
    var blocks: [PlannedBlock]
}

/// One block's classification and the action it gets.
struct PlannedBlock: Sendable, Equatable {
    enum Action: Sendable, Equatable {
        /// Run the language's toolchain on it.
        case check(CodeLanguage)
        /// Not code heidi checks (shell, output, data, empty, undetermined): passes unchecked.
        case skip
        /// Rejected as it stands, with this code.
        case reject(String)
    }

    var block: FencedBlock
    var language: String
    var source: LanguageSource
    var action: Action
    var notes: [String]
}

/// The rules that turn an answer's blocks into a plan:
///
/// - A block tagged with a checked language is checked; with a language heidi cannot check (`rust`) it is
///   rejected as `unsupported_language`; shell, output, data and markup tags (`bash`, `text`, `json`) are skipped.
/// - An untagged block (or one with an unknown word as tag) is guessed: a language is checked, a shell session is
///   skipped, and an undecided block is skipped unless nothing else in the answer is code, in which case it is
///   checked as the expected language (if there is one).
/// - With an expected language, every code block must be in it, else `language_mismatch`; the guesser leans to
///   the expected language whenever its clues allow.
/// - A disabled language counts as unsupported. Blank blocks are skipped (`empty_block`).
/// - No block left to check or reject: `no_code_block`.
struct ValidationPlanner: Sendable {
    var enabledLanguages: Set<CodeLanguage>
    var guesser = LanguageGuesser()

    func plan(_ blocks: [FencedBlock], expectedLanguage: String?) -> ValidationPlan {
        var expected: CodeLanguage?
        var rejection: String?
        if let name = expectedLanguage.map({ String($0.trimmed()) }), !name.isEmpty {
            if let language = CodeLanguage(name: name), enabledLanguages.contains(language) {
                expected = language
            } else {
                rejection = RejectionCode.unsupportedLanguage
            }
        }
        var planned = blocks.map { classify($0, expected: expected) }
        let hasCode = planned.contains { if case .skip = $0.action { return false } else { return true } }
        if !hasCode {
            let undetermined = planned.indices.filter { planned[$0].notes.contains(RejectionCode.undeterminedLanguage) }
            if let expected, !undetermined.isEmpty {
                for index in undetermined {
                    planned[index].language = expected.rawValue
                    planned[index].source = .expected
                    planned[index].action = .check(expected)
                    planned[index].notes.removeAll { $0 == RejectionCode.undeterminedLanguage }
                }
            } else if rejection == nil {
                rejection = RejectionCode.noCodeBlock
            }
        }
        if rejection != nil {
            // The answer is rejected already: run nothing.
            for index in planned.indices where planned[index].action != .skip { planned[index].action = .skip }
        }
        return ValidationPlan(rejection: rejection, blocks: planned)
    }

    private func classify(_ block: FencedBlock, expected: CodeLanguage?) -> PlannedBlock {
        var notes = block.isTerminated ? [] : [RejectionCode.unterminatedFence]
        let tag = block.tag
        if block.isBlank {
            notes.append(RejectionCode.emptyBlock)
            return PlannedBlock(
                block: block,
                language: tag.name ?? "unknown",
                source: tag == .untagged ? .guessed : .fence,
                action: .skip,
                notes: notes
            )
        }
        func planned(_ language: String, _ source: LanguageSource, _ action: PlannedBlock.Action) -> PlannedBlock {
            PlannedBlock(block: block, language: language, source: source, action: action, notes: notes)
        }
        switch tag {
        case .supported(let language):
            return planned(language.rawValue, .fence, action(for: language, expected: expected))
        case .unsupported(let name):
            return planned(
                name,
                .fence,
                .reject(expected == nil ? RejectionCode.unsupportedLanguage : RejectionCode.languageMismatch)
            )
        case .auxiliary(let name):
            return planned(name, .fence, .skip)
        case .untagged, .unrecognized:
            let guess = guesser.guess(block.code, expecting: expected)
            switch guess.category {
            case .some(.shell):
                return planned(GuessCategory.shell.rawValue, .guessed, .skip)
            case .some(let category):
                guard let language = category.language else { return planned("unknown", .guessed, .skip) }
                return planned(language.rawValue, .guessed, action(for: language, expected: expected))
            case .none:
                notes.append(RejectionCode.undeterminedLanguage)
                return planned("unknown", .guessed, .skip)
            }
        }
    }

    private func action(for language: CodeLanguage, expected: CodeLanguage?) -> PlannedBlock.Action {
        if let expected, language != expected { return .reject(RejectionCode.languageMismatch) }
        guard enabledLanguages.contains(language) else { return .reject(RejectionCode.unsupportedLanguage) }
        return .check(language)
    }
}
