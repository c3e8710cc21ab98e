// StrictDecoding: Codable configs refuse keys they do not know, naming the closest valid key,
// so a typo in a station profile fails loudly instead of leaving a default in force.

import Foundation

/// A key that is not one of a config's keys.
public struct UnknownKeyError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let key: String
    public let suggestion: String?
    public let validKeys: [String]

    public var description: String {
        let place = path.isEmpty ? "the top level" : "'\(path)'"
        var text = "unknown key '\(key)' in \(place)"
        if let suggestion { text += "; did you mean '\(suggestion)'?" }
        return text + " (valid keys: \(validKeys.joined(separator: ", ")))"
    }
}

/// Any string key, for listing what a JSON object holds.
struct AnyKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

public enum StrictDecoding {
    /// Throws `UnknownKeyError` if the object being decoded has a key outside `Keys`.
    public static func rejectUnknownKeys<Keys: CodingKey & CaseIterable>(_ decoder: Decoder,
                                                                  _ keys: Keys.Type) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        let valid = Keys.allCases.map(\.stringValue)
        for key in container.allKeys where !valid.contains(key.stringValue) {
            let closest = valid.min { distance($0, key.stringValue) < distance($1, key.stringValue) }
            let near = closest.map { distance($0, key.stringValue) <= max(2, key.stringValue.count / 3) }
            throw UnknownKeyError(path: decoder.codingPath.map(\.stringValue).joined(separator: "."),
                                  key: key.stringValue, suggestion: near == true ? closest : nil,
                                  validKeys: valid.sorted())
        }
    }

    /// Levenshtein distance between two strings.
    public static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        var row = Array(0...b.count)
        for i in 1...a.count {
            var previous = row[0]
            row[0] = i
            if b.isEmpty { continue }
            for j in 1...b.count {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[b.count]
    }
}

/// A profile value chosen from a fixed list of strings. Decoding an unknown string fails
/// with a message listing the valid ones, where the standard decoding would only name the
/// Swift type.
public protocol ProfileChoice: RawRepresentable, CaseIterable, Codable where RawValue == String {}

extension ProfileChoice {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = Self(rawValue: text) else {
            let valid = Self.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "'\(text)' is not one of \(valid)")
        }
        self = value
    }
}

/// Decoding errors of a JSON profile in words for the person editing it: the key path goes
/// with the issue; this gives the problem.
public enum ProfileDecodingText {
    /// `data` is the file's text: Foundation's decoder on Linux reports syntax errors and
    /// numbers that do not fit without a place, so the text is parsed again to find one.
    public static func problem(_ error: DecodingError, data: Data? = nil) -> String {
        switch error {
        case let .typeMismatch(type, context):
            if context.codingPath.isEmpty {
                return "the file must hold one JSON object ({ ... }), found something else"
            }
            return "expected \(describe(type)), found another kind of value"
        case let .valueNotFound(type, _):
            return "expected \(describe(type)), found null"
        case let .keyNotFound(key, _):
            return "missing key '\(key.stringValue)' (required)"
        case let .dataCorrupted(context):
            if let underlying = context.underlyingError as NSError?,
               let detail = underlying.userInfo[NSDebugDescriptionErrorKey] as? String {
                return "not valid JSON: \(detail)"
            }
            if context.codingPath.isEmpty, let data {
                return wholeFileProblem(data) ?? context.debugDescription
            }
            return context.debugDescription
        @unknown default:
            return "\(error)"
        }
    }

    /// A syntax error with its line and column, or the one other thing the decoder reports
    /// without a place: a number that does not fit its key's type.
    private static func wholeFileProblem(_ data: Data) -> String? {
        do {
            _ = try JSONSerialization.jsonObject(with: data)
        } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? ""
            // "Invalid value around character 11." -> line and column of byte 11
            let digits = detail.split(whereSeparator: { !$0.isNumber }).last.flatMap { Int($0) }
            guard let offset = digits, offset <= data.count else {
                return "not valid JSON" + (detail.isEmpty ? "" : ": \(detail)")
            }
            let before = data.prefix(offset)
            let line = before.filter { $0 == 0x0A }.count + 1
            let column = offset - (before.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0) + 1
            return "not valid JSON at line \(line), column \(column)"
        }
        return "a number does not fit its key (a fraction, or too large, where a whole number "
            + "goes); this decoder does not say which key"
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is Int32.Type, is UInt32.Type, is Int64.Type, is UInt64.Type:
            return "a whole number"
        case is Double.Type, is Float.Type: return "a number"
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        default:
            let name = "\(type)"
            if name.hasPrefix("Array") { return "a list ([ ... ])" }
            if name.hasPrefix("Dictionary") { return "an object ({ ... })" }
            return "a value of type \(name)"
        }
    }
}
