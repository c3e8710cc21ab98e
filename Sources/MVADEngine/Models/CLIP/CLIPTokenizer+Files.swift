// Reading a CLIPTokenizer from a Hugging Face tokenizer folder: vocab.json + merges.txt, or
// tokenizer.json, with the special tokens and model_max_length of its config files.

import Foundation

extension CLIPTokenizer {
    /// The tokenizer files of a folder, as transformers' CLIPTokenizer.from_pretrained reads
    /// them: tokenizer.json when present, else vocab.json + merges.txt; the special tokens
    /// from tokenizer_config.json, overridden by special_tokens_map.json, CLIP's defaults
    /// for those neither names; `model_max_length` from tokenizer_config.json.
    public init(folder: String) throws {
        let files = TokenizerFiles(folder: folder)
        let tables: (vocabulary: [String: Int], merges: [(left: String, right: String)])
        let source: String
        if files.exists("tokenizer.json") {
            source = files.path("tokenizer.json")
            tables = try Self.readTokenizerJSON(source)
        } else if files.exists("vocab.json") && files.exists("merges.txt") {
            source = files.path("vocab.json")
            tables = (try Self.readVocabulary(files.path("vocab.json")),
                      try Self.readMerges(files.path("merges.txt")))
        } else {
            throw CLIPTokenizerError.noTokenizerFiles(folder: folder, found: files.listing())
        }

        var special = SpecialTokens.clip
        var maxLength: Int? = nil
        if files.exists("tokenizer_config.json") {
            let path = files.path("tokenizer_config.json")
            let config = try readJSONObject(path)
            try Self.applySpecialTokens(config, to: &special, path: path)
            maxLength = Self.modelMaxLength(config)
        }
        if files.exists("special_tokens_map.json") {
            let path = files.path("special_tokens_map.json")
            try Self.applySpecialTokens(readJSONObject(path), to: &special, path: path)
        }
        try self.init(vocabulary: tables.vocabulary, merges: tables.merges,
                      specialTokens: special, maxLength: maxLength, source: source)
    }

    /// vocab.json: an object of token string -> non-negative integer id.
    static func readVocabulary(_ path: String) throws -> [String: Int] {
        try vocabulary(from: readJSONObject(path), path: path, field: "the file")
    }

    private static func vocabulary(from object: [String: Any], path: String,
                                   field: String) throws -> [String: Int] {
        var vocabulary: [String: Int] = [:]
        for (token, value) in object {
            guard let id = value as? Int, id >= 0 else {
                throw CLIPTokenizerError.invalidFile(
                    path: path, problem: "\(field) maps \(quoted(token)) to \(describe(value)); "
                        + "expected token strings mapped to non-negative integer ids")
            }
            vocabulary[token] = id
        }
        guard !vocabulary.isEmpty else {
            throw CLIPTokenizerError.invalidFile(path: path, problem: "\(field) has no tokens")
        }
        return vocabulary
    }

    /// merges.txt: an optional `#version` line, then one merge per line, "left right" (lines
    /// may end in CRLF).
    static func readMerges(_ path: String) throws -> [(left: String, right: String)] {
        let text = try readText(path)
        var merges: [(left: String, right: String)] = []
        // "\r\n" is one Character in Swift, so both line ends are named.
        var lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
        if lines.last?.isEmpty == true { lines.removeLast() }
        for (index, line) in lines.enumerated() where !line.hasPrefix("#version") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw CLIPTokenizerError.invalidFile(
                    path: path, problem: "line \(index + 1) is \(quoted(String(line.prefix(60)))); "
                        + "expected two symbols separated by one space")
            }
            merges.append((String(parts[0]), String(parts[1])))
        }
        return merges
    }

    /// tokenizer.json of a byte-level BPE tokenizer with `</w>` word ends (CLIP's):
    /// `model.vocab` and `model.merges` ("left right" strings or [left, right] pairs).
    static func readTokenizerJSON(
        _ path: String
    ) throws -> (vocabulary: [String: Int], merges: [(left: String, right: String)]) {
        let root = try readJSONObject(path)
        guard let model = root["model"] as? [String: Any] else {
            throw CLIPTokenizerError.invalidFile(path: path, problem: "has no \"model\" object")
        }
        let type = model["type"] as? String ?? "BPE"
        let suffix = model["end_of_word_suffix"] as? String
        guard type == "BPE", suffix == "</w>" else {
            throw CLIPTokenizerError.invalidFile(
                path: path, problem: "describes a \(type) model with end_of_word_suffix "
                    + "\(suffix.map(quoted) ?? "null"); expected CLIP's BPE with \"</w>\"")
        }
        guard let vocab = model["vocab"] as? [String: Any] else {
            throw CLIPTokenizerError.invalidFile(
                path: path, problem: "model.vocab is not an object of token -> id")
        }
        let vocabulary = try vocabulary(from: vocab, path: path, field: "model.vocab")
        guard let rawMerges = model["merges"] as? [Any] else {
            throw CLIPTokenizerError.invalidFile(path: path, problem: "model.merges is not a list")
        }
        let merges = try rawMerges.enumerated().map { index, item in
            let parts = (item as? String).map { $0.split(separator: " ").map(String.init) }
                ?? (item as? [String])
            guard let parts, parts.count == 2 else {
                throw CLIPTokenizerError.invalidFile(
                    path: path, problem: "model.merges[\(index)] is \(describe(item)); expected "
                        + "\"left right\" or [\"left\", \"right\"]")
            }
            return (left: parts[0], right: parts[1])
        }
        return (vocabulary, merges)
    }

    /// Sets the roles `object` names: `bos_token` etc. as strings or {"content": ...}.
    private static func applySpecialTokens(_ object: [String: Any], to special: inout SpecialTokens,
                                           path: String) throws {
        func token(_ key: String) throws -> String? {
            guard let value = object[key], !(value is NSNull) else { return nil }
            if let text = value as? String { return text }
            if let text = (value as? [String: Any])?["content"] as? String { return text }
            throw CLIPTokenizerError.invalidFile(
                path: path, problem: "\(key) is \(describe(value)); expected a token string or "
                    + "an object with a \"content\" string")
        }
        special.start = try token("bos_token") ?? special.start
        special.end = try token("eos_token") ?? special.end
        special.padding = try token("pad_token") ?? special.padding
        special.unknown = try token("unk_token") ?? special.unknown
    }

    /// `model_max_length` when it is a usable integer; transformers writes 1e30 for "none".
    private static func modelMaxLength(_ config: [String: Any]) -> Int? {
        guard let value = config["model_max_length"] as? Int, value < 1 << 31 else { return nil }
        return value
    }
}

/// Why a tokenizer folder could not be read.
public enum CLIPTokenizerError: Error, CustomStringConvertible, Equatable {
    case noTokenizerFiles(folder: String, found: [String])
    case unreadable(path: String, reason: String)
    case invalidFile(path: String, problem: String)
    case mergeOutsideVocabulary(source: String, merge: Int, pair: String, token: String)
    case specialTokenOutsideVocabulary(source: String, role: String, token: String)
    case invalidMaxLength(source: String, found: Int)

    public var description: String {
        switch self {
        case let .noTokenizerFiles(folder, found):
            let listing = found.isEmpty
                ? "it is empty" : "it holds " + found.joined(separator: ", ")
            return "\(folder): no CLIP tokenizer (\(listing)); expected vocab.json + merges.txt, "
                + "or tokenizer.json."
        case let .unreadable(path, reason):
            return "\(path): cannot be read: \(reason)."
        case let .invalidFile(path, problem):
            return "\(path): \(problem)."
        case let .mergeOutsideVocabulary(source, merge, pair, token):
            return "\(source): merge \(merge) (\(quoted(pair))) uses or makes \(quoted(token)), "
                + "which is not in the vocabulary; the vocabulary and the merges do not belong "
                + "together."
        case let .specialTokenOutsideVocabulary(source, role, token):
            return "\(source): the \(role) \(quoted(token)) is not in the vocabulary; expected "
                + "the tokenizer config's special tokens among the vocabulary's tokens."
        case let .invalidMaxLength(source, found):
            return "\(source): model_max_length is \(found); expected at least 2 (start and end "
                + "tokens)."
        }
    }
}

// MARK: - File helpers

/// Presence checks and listing of one tokenizer folder.
private struct TokenizerFiles {
    let folder: String

    func path(_ name: String) -> String {
        folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }

    func exists(_ name: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path(name), isDirectory: &isDirectory)
            && !isDirectory.boolValue
    }

    func listing() -> [String] {
        Array(((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
            .prefix(10))
    }
}

/// The file at `path` as UTF-8 text.
func readText(_ path: String) throws -> String {
    let data: Data
    do {
        data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
        throw CLIPTokenizerError.unreadable(path: path, reason: error.localizedDescription)
    }
    guard let text = String(data: data, encoding: .utf8) else {
        throw CLIPTokenizerError.invalidFile(path: path, problem: "is not UTF-8 text")
    }
    return text
}

/// The file at `path` as a JSON object.
func readJSONObject(_ path: String) throws -> [String: Any] {
    let text = try readText(path)
    let parsed: Any
    do {
        parsed = try JSONSerialization.jsonObject(with: Data(text.utf8))
    } catch {
        throw CLIPTokenizerError.invalidFile(
            path: path, problem: "is not valid JSON (\(error.localizedDescription))")
    }
    guard let object = parsed as? [String: Any] else {
        throw CLIPTokenizerError.invalidFile(
            path: path, problem: "holds \(describe(parsed)); expected a JSON object")
    }
    return object
}

private func quoted(_ text: String) -> String { "\"\(text)\"" }

/// A short description of a JSON value for messages.
private func describe(_ value: Any) -> String {
    switch value {
    case let text as String: return "the string \(quoted(String(text.prefix(40))))"
    case is NSNull: return "null"
    case let number as NSNumber: return "the number \(number)"
    case is [Any]: return "a list"
    case is [String: Any]: return "an object"
    default: return "a \(type(of: value))"
    }
}
