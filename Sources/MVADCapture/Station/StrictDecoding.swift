// StrictDecoding: Codable configs refuse keys they do not know, naming the closest valid key,
// so a typo in a station profile fails loudly instead of leaving a default in force.

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
