// SafeTensorsFile: a read-only, memory-mapped .safetensors file whose whole header and layout
// are validated on open (format: huggingface/safetensors, "8-byte length, JSON header, data").

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An open safetensors file. The file is mapped read-only and unmapped when the last reference
/// goes away; `tensor(_:)` copies (and widens to Float32) one tensor out of the mapping.
///
/// Opening checks everything the format requires, so later reads never go out of bounds:
/// the length prefix, the UTF-8 JSON header, every entry's dtype, shape and offsets, and that
/// the tensors tile the data section exactly, from byte 0 to the end of the file.
/// The mapping is private and read-only; if another process truncates the file while it is
/// open, reading the lost pages raises SIGBUS, which no check made at open can prevent.
public final class SafeTensorsFile: @unchecked Sendable {
    /// Element types the engine decodes, named as the header names them.
    public enum DType: String, Sendable, CaseIterable {
        case float32 = "F32"
        case float16 = "F16"
        case bfloat16 = "BF16"
        /// Integers, as older transformers checkpoints store buffers such as `position_ids`;
        /// widened to the nearest Float32 (exact up to 2^24 in magnitude).
        case int64 = "I64"

        /// Bytes per element.
        public var byteSize: Int {
            switch self {
            case .int64: return 8
            case .float32: return 4
            case .float16, .bfloat16: return 2
            }
        }
    }

    /// One tensor's header entry.
    public struct Entry: Sendable, Equatable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        /// Bytes of the data section holding the tensor, as the header's `data_offsets`.
        public let byteRange: Range<Int>

        /// Number of elements (1 for a scalar).
        public var elementCount: Int { byteRange.count / dtype.byteSize }
    }

    /// Largest header accepted, in bytes; real headers are well under a megabyte.
    public static let maximumHeaderLength = 100 << 20

    /// The path the file was opened with, used in every error.
    public let path: String
    /// The `__metadata__` object of the header, empty when absent.
    public let metadata: [String: String]
    /// Where the data section starts in the file: 8 + the header length.
    public let dataSectionOffset: Int

    /// Tensor names, sorted.
    public let names: [String]

    private let entries: [String: Entry]
    private let mapping: MappedFile

    /// Opens, maps and validates the file at `path`.
    public init(path: String) throws {
        self.path = path
        let mapping = try MappedFile(path: path)
        let header = try SafeTensorsHeader(mapping: mapping.bytes, path: path)
        self.mapping = mapping
        self.metadata = header.metadata
        self.entries = header.entries
        self.names = header.entries.keys.sorted()
        self.dataSectionOffset = header.dataSectionOffset
    }

    /// The header entry for `name`, or nil when the file has no such tensor.
    public func info(_ name: String) -> Entry? { entries[name] }

    /// The tensor `name`, widened to Float32. Throws `tensorNotFound` with close names.
    public func tensor(_ name: String) throws -> Tensor {
        guard let entry = entries[name] else {
            let close = SafeTensorsError.closeNames(to: name, among: entries.keys)
            throw SafeTensorsError.tensorNotFound(path: path, tensor: name, closeNames: close)
        }
        let start = dataSectionOffset + entry.byteRange.lowerBound
        let bytes = mapping.bytes
        precondition(start + entry.byteRange.count <= bytes.count, "validated at open")
        let count = entry.elementCount
        return Tensor(shape: entry.shape) { destination in
            guard let base = bytes.baseAddress, let target = destination.baseAddress else {
                return
            }
            let source = base + start
            switch entry.dtype {
            case .float32:
                Float16Conversion.copyFloat32(from: source, count: count, into: target)
            case .float16:
                Float16Conversion.convertHalf(from: source, count: count, into: target)
            case .bfloat16:
                Float16Conversion.convertBFloat16(from: source, count: count, into: target)
            case .int64:
                for i in 0..<count {
                    let bits = source.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)
                    target[i] = Float(Int64(littleEndian: bits))
                }
            }
            releasePages(of: UnsafeRawBufferPointer(start: source, count: entry.byteRange.count))
        }
    }

    /// Drops the mapped pages lying wholly inside `span` from the resident set once copied:
    /// a 3.4 GB checkpoint then does not count twice (file pages plus the Float copies) in the
    /// process's peak memory. Pages are re-read from the page cache if touched again.
    private func releasePages(of span: UnsafeRawBufferPointer) {
        guard let start = span.baseAddress, span.count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let first = (Int(bitPattern: start) + page - 1) / page * page
        let end = (Int(bitPattern: start) + span.count) / page * page
        guard end > first, let aligned = UnsafeMutableRawPointer(bitPattern: first) else { return }
        _ = madvise(aligned, end - first, MADV_DONTNEED)
    }

}

/// The read-only private mapping of a whole regular file, unmapped when the value goes away.
private struct MappedFile: ~Copyable {
    let bytes: UnsafeRawBufferPointer

    /// Maps the whole of the regular file at `path`, which must hold at least 8 bytes.
    init(path: String) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw SafeTensorsError.cannotOpen(path: path, reason: SafeTensorsError.errnoText())
        }
        defer { close(descriptor) }

        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw SafeTensorsError.cannotOpen(path: path, reason: SafeTensorsError.errnoText())
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw SafeTensorsError.notARegularFile(path: path)
        }
        let size = Int(status.st_size)
        guard size >= 8 else { throw SafeTensorsError.fileTooShort(path: path, size: size) }

        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let address, address != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw SafeTensorsError.cannotMap(path: path, reason: SafeTensorsError.errnoText())
        }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    deinit {
        guard let base = bytes.baseAddress else { return }
        munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
    }
}

/// The parsed and validated header of a mapped safetensors file.
struct SafeTensorsHeader {
    let metadata: [String: String]
    let entries: [String: SafeTensorsFile.Entry]
    let dataSectionOffset: Int

    private let path: String

    /// Parses the header at the start of `mapping` and checks the layout against its size.
    init(mapping: UnsafeRawBufferPointer, path: String) throws {
        self.path = path
        guard mapping.count >= 8 else {
            throw SafeTensorsError.fileTooShort(path: path, size: mapping.count)
        }

        let length = UInt64(littleEndian: mapping.loadUnaligned(as: UInt64.self))
        let limit = SafeTensorsFile.maximumHeaderLength
        guard length <= UInt64(limit) else {
            throw SafeTensorsError.headerTooLarge(path: path, headerLength: length, limit: limit)
        }
        let headerLength = Int(length)
        guard headerLength <= mapping.count - 8 else {
            throw SafeTensorsError.headerExceedsFile(
                path: path, headerLength: length, fileSize: mapping.count)
        }
        dataSectionOffset = 8 + headerLength

        let object = try Self.parseJSON(
            UnsafeRawBufferPointer(rebasing: mapping[8..<dataSectionOffset]), path: path)
        var metadata: [String: String] = [:]
        var entries: [String: SafeTensorsFile.Entry] = [:]
        for (name, value) in object.sorted(by: { $0.key < $1.key }) {
            if name == "__metadata__" {
                metadata = try Self.parseMetadata(value, path: path)
            } else {
                entries[name] = try EntryParser(path: path, name: name).parse(value)
            }
        }
        self.metadata = metadata
        self.entries = entries
        try checkLayout(dataSize: mapping.count - dataSectionOffset)
    }

    /// Decodes the header bytes as a UTF-8 JSON object.
    private static func parseJSON(
        _ bytes: UnsafeRawBufferPointer, path: String
    ) throws -> [String: Any] {
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw SafeTensorsError.headerNotUTF8(path: path)
        }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(
                with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            throw SafeTensorsError.headerNotJSON(path: path, reason: jsonReason(error))
        }
        guard let object = parsed as? [String: Any] else {
            throw SafeTensorsError.headerNotObject(path: path, found: describeJSON(parsed))
        }
        return object
    }

    /// The `__metadata__` object, which must map strings to strings.
    private static func parseMetadata(_ value: Any, path: String) throws -> [String: String] {
        guard let object = value as? [String: Any] else {
            throw SafeTensorsError.invalidMetadata(path: path, key: nil, found: describeJSON(value))
        }
        var metadata: [String: String] = [:]
        for (key, item) in object {
            guard let text = item as? String else {
                throw SafeTensorsError.invalidMetadata(
                    path: path, key: key, found: describeJSON(item))
            }
            metadata[key] = text
        }
        return metadata
    }

    /// Checks that the entries, in offset order, tile the data section exactly.
    ///
    /// A clean tiling that runs past the end of the file is reported as truncation; a tensor
    /// past the end in an already broken layout is reported as out of bounds, since its
    /// offsets, not the file length, are then the likelier fault.
    private func checkLayout(dataSize: Int) throws {
        let ordered = entries.values.sorted {
            ($0.byteRange.lowerBound, $0.byteRange.upperBound, $0.name)
                < ($1.byteRange.lowerBound, $1.byteRange.upperBound, $1.name)
        }
        var tilingError: SafeTensorsError?
        var cursor = 0
        var previous: SafeTensorsFile.Entry?
        for entry in ordered {
            if entry.byteRange.lowerBound > cursor {
                tilingError = .gapBetweenTensors(
                    path: path, previous: previous?.name, next: entry.name,
                    gap: cursor..<entry.byteRange.lowerBound)
                break
            }
            if let previous, entry.byteRange.lowerBound < cursor {
                tilingError = .overlappingTensors(
                    path: path, first: previous.name, firstOffsets: previous.byteRange,
                    second: entry.name, secondOffsets: entry.byteRange)
                break
            }
            cursor = entry.byteRange.upperBound
            previous = entry
        }

        if let beyond = ordered.first(where: { $0.byteRange.upperBound > dataSize }) {
            guard tilingError == nil else {
                throw SafeTensorsError.offsetsOutOfBounds(
                    path: path, tensor: beyond.name, offsets: beyond.byteRange,
                    dataSize: dataSize)
            }
            throw SafeTensorsError.truncated(
                path: path, declaredDataSize: cursor, actualDataSize: dataSize)
        }
        if let tilingError { throw tilingError }
        if cursor < dataSize {
            throw SafeTensorsError.trailingBytes(
                path: path, declaredDataSize: cursor, actualDataSize: dataSize)
        }
    }
}

/// Validates one header entry: `{"dtype": ..., "shape": [...], "data_offsets": [b, e]}`.
private struct EntryParser {
    let path: String
    let name: String

    func parse(_ value: Any) throws -> SafeTensorsFile.Entry {
        guard let object = value as? [String: Any] else {
            throw SafeTensorsError.entryNotObject(
                path: path, tensor: name, found: describeJSON(value))
        }
        let dtype = try parseDtype(field(object, "dtype"))
        let shape = try parseShape(field(object, "shape"))
        let offsets = try parseOffsets(field(object, "data_offsets"))

        var byteCount = dtype.byteSize
        for extent in shape {
            let (product, overflow) = byteCount.multipliedReportingOverflow(by: extent)
            guard !overflow else {
                throw SafeTensorsError.sizeOverflow(
                    path: path, tensor: name, dtype: dtype.rawValue, shape: shape)
            }
            byteCount = product
        }
        guard byteCount == offsets.count else {
            throw SafeTensorsError.byteCountMismatch(
                path: path, tensor: name, offsets: offsets, dtype: dtype.rawValue,
                shape: shape, expectedBytes: byteCount)
        }
        return SafeTensorsFile.Entry(name: name, dtype: dtype, shape: shape, byteRange: offsets)
    }

    private func field(_ object: [String: Any], _ key: String) throws -> Any {
        guard let value = object[key] else {
            throw SafeTensorsError.missingField(path: path, tensor: name, field: key)
        }
        return value
    }

    private func parseDtype(_ value: Any) throws -> SafeTensorsFile.DType {
        guard let text = value as? String else {
            throw invalid("dtype", value, expected: "a string such as \"F32\"")
        }
        guard let dtype = SafeTensorsFile.DType(rawValue: text) else {
            throw SafeTensorsError.unsupportedDtype(path: path, tensor: name, dtype: text)
        }
        return dtype
    }

    private func parseShape(_ value: Any) throws -> [Int] {
        let expected = "an array of non-negative integers"
        guard let items = value as? [Any] else { throw invalid("shape", value, expected: expected) }
        var shape: [Int] = []
        for item in items {
            guard let extent = jsonInteger(item) else {
                throw invalid("shape", value, expected: expected)
            }
            shape.append(extent)
        }
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw SafeTensorsError.negativeExtent(path: path, tensor: name, shape: shape)
        }
        return shape
    }

    private func parseOffsets(_ value: Any) throws -> Range<Int> {
        let expected = "[begin, end], two non-negative integers"
        guard let items = value as? [Any], items.count == 2,
              let begin = jsonInteger(items[0]), let end = jsonInteger(items[1]),
              begin >= 0, end >= 0
        else {
            throw invalid("data_offsets", value, expected: expected)
        }
        guard begin <= end else {
            throw SafeTensorsError.reversedOffsets(path: path, tensor: name, begin: begin, end: end)
        }
        return begin..<end
    }

    private func invalid(_ field: String, _ value: Any, expected: String) -> SafeTensorsError {
        .invalidField(
            path: path, tensor: name, field: field, found: describeJSON(value), expected: expected)
    }
}

/// The integer a JSON value holds, or nil for non-numbers, booleans, fractions (even `1.0`)
/// and integers outside `Int`.
private func jsonInteger(_ value: Any) -> Int? {
    guard let number = value as? NSNumber else { return nil }
    switch String(cString: number.objCType) {
    case "i", "s", "l", "q", "I", "S":
        return number.intValue
    case "L", "Q":
        return number.uint64Value <= UInt64(Int.max) ? Int(number.uint64Value) : nil
    default:
        return nil  // "c" is a JSON boolean, "d" and "f" a number with a fraction or exponent
    }
}

/// A short description of a JSON value for error messages: `"F64"`, `42`, `an object`, ...
private func describeJSON(_ value: Any) -> String {
    switch value {
    case is NSNull:
        return "null"
    case let text as String:
        let quoted = "\"\(text)\""
        return quoted.count <= 40 ? quoted : "a \(text.count)-character string"
    case let items as [Any]:
        let shown = items.prefix(6).map(describeJSON).joined(separator: ", ")
        return items.count <= 6 ? "[\(shown)]" : "[\(shown), ...] (\(items.count) items)"
    case is [String: Any]:
        return "an object"
    case let number as NSNumber:
        if String(cString: number.objCType) == "c" { return number.boolValue ? "true" : "false" }
        return number.stringValue
    default:
        return "\(type(of: value))"
    }
}

/// The reason JSONSerialization gave for rejecting the header, without a final period.
private func jsonReason(_ error: Error) -> String {
    let nsError = error as NSError
    let detail = nsError.userInfo[NSDebugDescriptionErrorKey] as? String
        ?? nsError.localizedDescription
    return detail.hasSuffix(".") ? String(detail.dropLast()) : detail
}
