// PackMetadata: the metadata block's one rule (a UTF-8 JSON object) and its encoding for the
// writer; what the object holds is the converter's business, documented in docs/FORMAT.md.

import Foundation

enum PackMetadata {
    /// Throws `metadataNotJSONObject` unless `data` parses as a JSON object.
    static func checkObject(_ data: Data, path: String) throws {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw PackError.metadataNotJSONObject(path: path, reason: "invalid JSON: \(error)")
        }
        guard parsed is [String: Any] else {
            throw PackError.metadataNotJSONObject(
                path: path, reason: "found a JSON \(String(describing: type(of: parsed)))")
        }
    }

    /// The JSON object in `text`, for metadata key `key` of the pack at `path`.
    static func decodeObject(_ text: String, key: String, path: String) throws -> [String: Any] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)),
              let dictionary = object as? [String: Any] else {
            throw PackError.invalidMetadataJSON(
                path: path, reason: "metadata '\(key)' is not a JSON object")
        }
        return dictionary
    }

    /// `object` as sorted-key JSON bytes.
    static func encode(_ object: [String: Any], path: String) throws -> Data {
        guard JSONSerialization.isValidJSONObject(object) else {
            throw PackError.invalidMetadataJSON(
                path: path, reason: "a value is not JSON (string, number, bool, array, object)")
        }
        do {
            return try JSONSerialization.data(
                withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        } catch {
            throw PackError.invalidMetadataJSON(path: path, reason: "\(error)")
        }
    }
}
