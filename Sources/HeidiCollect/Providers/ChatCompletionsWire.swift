import HeidiCore

/// The OpenAI chat-completions wire format: the request body heidi-collect sends and the parts of the answer it
/// reads (`choices[0].message.content`, `usage.prompt_tokens`, `usage.completion_tokens`, `model`). Servers that
/// speak it: OpenAI, vLLM, llama.cpp's server, Ollama, LiteLLM and most gateways.
public enum ChatCompletionsWire {
    /// `{"model":..,"messages":[system,user],"max_tokens":..,"temperature":..,"seed":..}`.
    public static func requestBody(_ request: TeacherRequest) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + request.task.system.utf8.count + request.task.userMessage.utf8.count)
        out.append(contentsOf: #"{"model":"#.utf8)
        JSONText.appendString(request.model, to: &out)
        out.append(contentsOf: #","messages":[{"role":"system","content":"#.utf8)
        JSONText.appendString(request.task.system, to: &out)
        out.append(contentsOf: #"},{"role":"user","content":"#.utf8)
        JSONText.appendString(request.task.userMessage, to: &out)
        out.append(contentsOf: #"}],"max_tokens":"#.utf8)
        out.append(contentsOf: String(request.maxOutputTokens).utf8)
        out.append(contentsOf: #","temperature":"#.utf8)
        JSONText.appendNumber(request.temperature, to: &out)
        out.append(contentsOf: #","seed":"#.utf8)
        // OpenAI takes a signed 64-bit seed; keep it positive and well inside the range.
        out.append(contentsOf: String(request.seed & 0x7FFF_FFFF).utf8)
        out.append(contentsOf: #","stream":false}"#.utf8)
        return out
    }

    /// The answer of a 2xx response, or why it is not one.
    public static func parseResponse(_ body: [UInt8], contentType: String?) throws(ProviderError) -> TeacherResponse {
        let value: JSONValue
        do { value = try StrictJSONParser.parse(body) } catch {
            if looksLikeHTML(body, contentType: contentType) {
                throw .malformed("an HTML page instead of JSON (\(excerpt(body)))")
            }
            if body.isEmpty { throw .malformed("empty body") }
            throw .malformed("invalid JSON: \(error) (\(excerpt(body)))")
        }
        guard case .object = value else { throw .malformed("expected a JSON object, got \(kind(value))") }
        if let error = value["error"], !error.isNull {
            throw .malformed("the server answered with an error object: \(errorMessage(error) ?? "no message")")
        }
        guard let choices = value["choices"] else { throw .malformed("no \"choices\" in the answer") }
        guard case .array(let items) = choices, let first = items.first else {
            throw .malformed("\"choices\" is empty or not a list")
        }
        guard let message = first["message"], case .object = message else {
            throw .malformed("choices[0] has no \"message\"")
        }
        guard let contentValue = message["content"], let content = contentValue.stringValue else {
            let finish = first["finish_reason"]?.stringValue.map { " (finish_reason \($0))" } ?? ""
            throw .malformed("choices[0].message.content is missing or not text\(finish)")
        }
        guard !content.trimmingWhitespace.isEmpty else {
            let finish = first["finish_reason"]?.stringValue.map { " (finish_reason \($0))" } ?? ""
            throw .malformed("empty answer\(finish)")
        }
        let usage = value["usage"]
        let prompt = usage?["prompt_tokens"].flatMap(count)
        let completion = usage?["completion_tokens"].flatMap(count)
        let tokens: TokenUsage
        if let prompt, let completion {
            tokens = TokenUsage(inputTokens: prompt, outputTokens: completion)
        } else {
            // Some servers omit usage; budgets still need a number.
            tokens = TokenUsage(
                inputTokens: prompt ?? 0,
                outputTokens: completion ?? TokenUsage.estimate(content),
                estimated: true
            )
        }
        return TeacherResponse(content: content, usage: tokens, model: value["model"]?.stringValue)
    }

    /// A short description of an error response body: `error.message` of a JSON error, else the start of the text.
    public static func errorDetail(_ body: [UInt8]) -> String {
        if let value = try? StrictJSONParser.parse(body) {
            if let error = value["error"], let message = errorMessage(error) { return message }
            if let message = value["message"]?.stringValue { return message }
        }
        return excerpt(body)
    }

    static func errorMessage(_ error: JSONValue) -> String? {
        if let text = error.stringValue { return text }
        return error["message"]?.stringValue
    }

    static func count(_ value: JSONValue) -> Int? {
        guard case .number(let literal) = value, let number = Double(literal), number.isFinite, number >= 0,
            number < 1e12
        else { return nil }
        return Int(number)
    }

    static func kind(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "a list"
        case .object: return "an object"
        }
    }

    static func looksLikeHTML(_ body: [UInt8], contentType: String?) -> Bool {
        if contentType?.lowercased().contains("html") == true { return true }
        let start = String(decoding: body.prefix(64), as: UTF8.self).trimmingWhitespace.lowercased()
        return start.hasPrefix("<!doctype") || start.hasPrefix("<html")
    }

    /// The first 160 characters of a body on one line, control characters removed.
    static func excerpt(_ body: [UInt8]) -> String {
        let text = String(decoding: body.prefix(600), as: UTF8.self)
        var result = ""
        var lastWasSpace = false
        for character in text {
            let isSpace = character.isWhitespace || character.asciiValue.map { $0 < 0x20 || $0 == 0x7f } == true
            if isSpace {
                if !lastWasSpace && !result.isEmpty { result.append(" ") }
                lastWasSpace = true
            } else {
                result.append(character)
                lastWasSpace = false
            }
            if result.count >= 160 { return result + "…" }
        }
        return result.isEmpty ? "empty body" : result
    }
}
