// SafeTensorsError: everything that can be wrong with a .safetensors file, as read or as
// written, each case saying which file, which tensor, what was found and what was expected.

#if canImport(Glibc)
import Glibc
#endif

/// A malformed, unreadable or unwritable safetensors file. Offsets in messages are relative
/// to the start of the data section (byte 8 + N of the file), exactly as the header gives them.
public enum SafeTensorsError: Error, Equatable, CustomStringConvertible {
    // Opening the file.
    case cannotOpen(path: String, reason: String)
    case notARegularFile(path: String)
    case cannotMap(path: String, reason: String)

    // The 8-byte length prefix and the JSON header.
    case fileTooShort(path: String, size: Int)
    case headerTooLarge(path: String, headerLength: UInt64, limit: Int)
    case headerExceedsFile(path: String, headerLength: UInt64, fileSize: Int)
    case headerNotUTF8(path: String)
    case headerNotJSON(path: String, reason: String)
    case headerNotObject(path: String, found: String)
    case invalidMetadata(path: String, key: String?, found: String)

    // One header entry.
    case entryNotObject(path: String, tensor: String, found: String)
    case missingField(path: String, tensor: String, field: String)
    case invalidField(path: String, tensor: String, field: String, found: String, expected: String)
    case unsupportedDtype(path: String, tensor: String, dtype: String)
    case negativeExtent(path: String, tensor: String, shape: [Int])
    case reversedOffsets(path: String, tensor: String, begin: Int, end: Int)
    case sizeOverflow(path: String, tensor: String, dtype: String, shape: [Int])
    case byteCountMismatch(
        path: String, tensor: String, offsets: Range<Int>, dtype: String, shape: [Int],
        expectedBytes: Int)

    // How the entries tile the data section.
    case offsetsOutOfBounds(path: String, tensor: String, offsets: Range<Int>, dataSize: Int)
    case truncated(path: String, declaredDataSize: Int, actualDataSize: Int)
    case overlappingTensors(
        path: String, first: String, firstOffsets: Range<Int>,
        second: String, secondOffsets: Range<Int>)
    case gapBetweenTensors(path: String, previous: String?, next: String, gap: Range<Int>)
    case trailingBytes(path: String, declaredDataSize: Int, actualDataSize: Int)

    // Looking a tensor up.
    case tensorNotFound(path: String, tensor: String, closeNames: [String])

    // Writing.
    case invalidTensorName(path: String, tensor: String, reason: String)
    case cannotCreate(path: String, reason: String)
    case writeFailed(path: String, reason: String)
    case cannotReplace(path: String, reason: String)

    /// The dtypes the engine decodes, for messages.
    static let supportedDtypes = ["F32", "F16", "BF16"]

    /// Every dtype the safetensors format defines, to tell "unsupported" from "unknown".
    static let formatDtypes: Set<String> = [
        "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16",
        "I32", "U32", "F32", "F64", "I64", "U64",
    ]

    public var description: String {
        framingDescription ?? entryDescription ?? layoutDescription ?? "malformed safetensors file"
    }

    /// Descriptions of the opening, length-prefix and header cases.
    private var framingDescription: String? {
        switch self {
        case let .cannotOpen(path, reason):
            return "\(path): cannot open the file for reading: \(reason)."
        case let .notARegularFile(path):
            return "\(path): is not a regular file; expected a .safetensors file."
        case let .cannotMap(path, reason):
            return "\(path): cannot memory-map the file: \(reason)."
        case let .fileTooShort(path, size):
            return "\(path): the file is \(size) bytes long, but a safetensors file needs at "
                + "least 8 bytes for its header length."
        case let .headerTooLarge(path, length, limit):
            return "\(path): the header length prefix says \(length) bytes, over the limit of "
                + "\(limit) bytes; this is not a safetensors file or it is corrupt."
        case let .headerExceedsFile(path, length, fileSize):
            return "\(path): the header length prefix says \(length) bytes, but the file is "
                + "only \(fileSize) bytes long (8 + \(length) needed); the file is truncated "
                + "or not a safetensors file."
        case let .headerNotUTF8(path):
            return "\(path): the header is not valid UTF-8; expected a UTF-8 JSON object."
        case let .headerNotJSON(path, reason):
            return "\(path): the header is not valid JSON (\(reason)); expected a JSON object."
        case let .headerNotObject(path, found):
            return "\(path): the header JSON is \(found); expected an object mapping tensor "
                + "names to entries."
        case let .invalidMetadata(path, key, found):
            let place = key.map { "'__metadata__' key '\($0)' is" } ?? "'__metadata__' is"
            return "\(path): \(place) \(found); expected an object of strings to strings."
        default:
            return nil
        }
    }

    /// Descriptions of the per-entry cases.
    private var entryDescription: String? {
        switch self {
        case let .entryNotObject(path, tensor, found):
            return "\(path): the header entry for tensor '\(tensor)' is \(found); expected an "
                + "object with dtype, shape and data_offsets."
        case let .missingField(path, tensor, field):
            return "\(path): tensor '\(tensor)' has no '\(field)' field; every entry needs "
                + "dtype, shape and data_offsets."
        case let .invalidField(path, tensor, field, found, expected):
            return "\(path): tensor '\(tensor)' has \(field) \(found); expected \(expected)."
        case let .unsupportedDtype(path, tensor, dtype):
            let what = Self.formatDtypes.contains(dtype)
                ? "which this engine does not load" : "which is not a safetensors dtype"
            return "\(path): tensor '\(tensor)' has dtype \(dtype), \(what); supported dtypes "
                + "are \(Self.supportedDtypes.joined(separator: ", ")). Re-save the "
                + "checkpoint as float32 or float16."
        case let .negativeExtent(path, tensor, shape):
            return "\(path): tensor '\(tensor)' has shape \(shape) with a negative extent; "
                + "expected extents >= 0."
        case let .reversedOffsets(path, tensor, begin, end):
            return "\(path): tensor '\(tensor)' has data_offsets [\(begin), \(end)] with begin "
                + "after end; expected begin <= end."
        case let .sizeOverflow(path, tensor, dtype, shape):
            return "\(path): tensor '\(tensor)' has dtype \(dtype) x shape \(shape), whose "
                + "byte count overflows a 64-bit integer; the header is corrupt."
        case let .byteCountMismatch(path, tensor, offsets, dtype, shape, expected):
            return "\(path): tensor '\(tensor)' spans bytes \(offsets) but dtype \(dtype) x "
                + "shape \(shape) needs \(expected) bytes."
        default:
            return nil
        }
    }

    /// Descriptions of the layout, lookup and writing cases.
    private var layoutDescription: String? {
        switch self {
        case let .offsetsOutOfBounds(path, tensor, offsets, dataSize):
            return "\(path): tensor '\(tensor)' spans bytes \(offsets) of the data section, "
                + "but the data section holds only \(dataSize) bytes."
        case let .truncated(path, declared, actual):
            return "\(path): the header describes \(declared) bytes of tensor data but the "
                + "file holds only \(actual) after the header; the file is truncated "
                + "(an incomplete download or copy?)."
        case let .overlappingTensors(path, first, firstOffsets, second, secondOffsets):
            return "\(path): tensor '\(second)' (bytes \(secondOffsets)) overlaps tensor "
                + "'\(first)' (bytes \(firstOffsets)); expected each tensor to begin where "
                + "the previous one ends."
        case let .gapBetweenTensors(path, previous, next, gap):
            let place = previous.map { "lie unused between tensor '\($0)' and" }
                ?? "come before the first"
            return "\(path): bytes \(gap) of the data section \(place) tensor '\(next)'; "
                + "expected tensors packed from byte 0 with no gaps."
        case let .trailingBytes(path, declared, actual):
            return "\(path): the tensors end at byte \(declared) of the data section, but the "
                + "file holds \(actual) bytes after the header; expected no trailing bytes."
        case let .tensorNotFound(path, tensor, closeNames):
            let hint = closeNames.isEmpty
                ? "no similar names"
                : "close names: " + closeNames.map { "'\($0)'" }.joined(separator: ", ")
            return "\(path): no tensor named '\(tensor)' (\(hint))."
        case let .invalidTensorName(path, tensor, reason):
            return "\(path): cannot write tensor named '\(tensor)': \(reason)."
        case let .cannotCreate(path, reason):
            return "\(path): cannot create the file: \(reason)."
        case let .writeFailed(path, reason):
            return "\(path): writing failed: \(reason); the previous file, if any, is untouched."
        case let .cannotReplace(path, reason):
            return "\(path): cannot move the finished file into place: \(reason)."
        default:
            return nil
        }
    }
}

extension SafeTensorsError {
    /// The current `errno` as text, e.g. "No such file or directory (errno 2)".
    static func errnoText() -> String {
        let code = errno
        return "\(String(cString: strerror(code))) (errno \(code))"
    }

    /// Up to `limit` names from `candidates` closest to `name` by edit distance, nearest first;
    /// names further than about a third of the name's length are left out.
    static func closeNames(
        to name: String, among candidates: some Sequence<String>, limit: Int = 3
    ) -> [String] {
        let target = Array(name.utf8)
        let cutoff = max(2, target.count / 3)
        var scored: [(distance: Int, name: String)] = []
        for candidate in candidates {
            let distance = editDistance(target, Array(candidate.utf8), cap: cutoff)
            if distance <= cutoff { scored.append((distance, candidate)) }
        }
        scored.sort { ($0.distance, $0.name) < ($1.distance, $1.name) }
        return scored.prefix(limit).map(\.name)
    }

    /// Levenshtein distance between two byte strings, or `cap + 1` once it must exceed `cap`.
    private static func editDistance(_ a: [UInt8], _ b: [UInt8], cap: Int) -> Int {
        if abs(a.count - b.count) > cap { return cap + 1 }
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            var rowMinimum = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(substitution, previous[j] + 1, current[j - 1] + 1)
                rowMinimum = min(rowMinimum, current[j])
            }
            if rowMinimum > cap { return cap + 1 }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
