// PackFile: a read-only, memory-mapped .mvad model pack whose header, metadata and tensor table
// are fully validated on open; tensor bytes are handed out in place, without copying.

import Foundation
import MVADEngine

/// An open pack. Opening reads only the header, the metadata block and the tensor table, so it
/// costs the same for a 1 GB pack as for a 1 KB one; tensor data is not touched until asked for,
/// and its checksums are checked by `verify()` or, per tensor, on request.
///
/// Sendable because nothing changes after `init`: the mapping is private and read-only. As with
/// any mapping, another process truncating the file while it is open makes reads of the lost
/// pages raise SIGBUS; packs should be replaced by rename, as `PackWriter` does.
public final class PackFile: @unchecked Sendable {
    /// The path the pack was opened with, used in every error.
    public let path: String
    /// Format version of the file: the major is always `PackFormat.majorVersion`.
    public let majorVersion: UInt32
    public let minorVersion: UInt32
    /// The metadata block: the UTF-8 bytes of a JSON object, already parsed once at open.
    public let metadataJSON: Data
    /// The table's entries in table order, which is ascending offset order.
    public let entries: [PackEntry]
    /// Tensor names in table order.
    public let names: [String]
    /// File bytes of the metadata block, the tensor table and the data section.
    public let metadataSection: Range<Int>
    public let tableSection: Range<Int>
    public let dataSection: Range<Int>

    private let byName: [String: PackEntry]
    private let mapping: MappedPackFile
    /// Int8 matrices already packed from this pack's tensors (see `PackWeights`).
    let quantizedMatrices = QuantizedMatrixCache()

    /// Maps the file at `path` and checks everything but the tensor data checksums.
    public init(path: String) throws {
        self.path = path
        let mapping = try MappedPackFile(path: path)
        let bytes = mapping.bytes
        let header = try PackHeader(bytes: bytes, path: path)

        let metadata = try Self.readMetadata(bytes, header: header, path: path)
        guard header.tableLength <= UInt64(PackFormat.maximumTableLength) else {
            throw PackError.tableTooLarge(
                path: path, length: header.tableLength, limit: PackFormat.maximumTableLength)
        }
        let table = Self.slice(bytes, header.tableOffset, header.tableLength)
        let computed = Checksum.crc32(table)
        guard computed == header.tableChecksum else {
            throw PackError.tableChecksumMismatch(
                path: path, stored: header.tableChecksum, computed: computed)
        }
        let dataSection = Self.range(header.dataOffset, header.dataLength)
        let entries = try PackTable.parse(table, dataSection: dataSection, path: path)
        let byName = try PackLayout.check(entries, path: path)

        self.mapping = mapping
        self.majorVersion = PackFormat.majorVersion
        self.minorVersion = header.minorVersion
        self.metadataJSON = metadata
        self.entries = entries
        self.names = entries.map(\.name)
        self.metadataSection = Self.range(header.metadataOffset, header.metadataLength)
        self.tableSection = Self.range(header.tableOffset, header.tableLength)
        self.dataSection = dataSection
        self.byName = byName
    }

    /// The entry for `name`, or nil when the pack holds no such tensor.
    public func entry(_ name: String) -> PackEntry? { byName[name] }

    /// The metadata as a JSON object (checked to be one at open).
    public func metadataObject() -> [String: Any] {
        let parsed = try? JSONSerialization.jsonObject(with: metadataJSON)
        return parsed as? [String: Any] ?? [:]
    }

    /// Calls `body` with the tensor's bytes inside the mapping: no copy, 64-byte aligned, valid
    /// only during the call. With `verify`, the tensor's CRC-32 is checked first.
    public func withUnsafeBytes<R>(
        _ name: String, verify: Bool = false, _ body: (UnsafeRawBufferPointer) throws -> R
    ) throws -> R {
        let entry = try requireEntry(name)
        let bytes = span(of: entry)
        if verify { try check(entry, bytes) }
        return try body(bytes)
    }

    /// Checks the CRC-32 of one tensor's data.
    public func verify(_ name: String) throws {
        let entry = try requireEntry(name)
        try check(entry, span(of: entry))
    }

    /// The entry for `name`, or `tensorNotFound`.
    func requireEntry(_ name: String) throws -> PackEntry {
        guard let entry = byName[name] else {
            throw PackError.tensorNotFound(path: path, tensor: name)
        }
        return entry
    }

    /// Drops the mapped pages from this process's resident memory. Models built from a pack
    /// hold their own copies of the weights, so once they are built the pages their build
    /// read are dead weight; the pack stays readable (pages fault back in from the file).
    public func releaseResidentPages() {
        mapping.releaseResidentPages(0..<mapping.bytes.count)
    }

    /// The same for the whole pages inside one tensor's data, once a model holds its copy:
    /// loading then never has a component's mapped pages and its copies resident together.
    func releaseResidentPages(of entry: PackEntry) {
        mapping.releaseResidentPages(entry.byteRange)
    }

    /// The mapped bytes of `entry` (inside the file: checked at open).
    func span(of entry: PackEntry) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: mapping.bytes[entry.byteRange])
    }

    /// The mapped bytes of `range` of the file (inside the file: checked by the caller).
    func span(of range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: mapping.bytes[range])
    }

    func check(_ entry: PackEntry, _ bytes: UnsafeRawBufferPointer) throws {
        let computed = Checksum.crc32(bytes)
        guard computed == entry.checksum else {
            throw PackError.dataChecksumMismatch(
                path: path, tensor: entry.name, stored: entry.checksum, computed: computed)
        }
    }

    /// `length` bytes from `offset` of `bytes`; the header check put them inside the file.
    private static func slice(
        _ bytes: UnsafeRawBufferPointer, _ offset: UInt64, _ length: UInt64
    ) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[range(offset, length)])
    }

    /// The file range of a section the header check placed inside the file.
    private static func range(_ offset: UInt64, _ length: UInt64) -> Range<Int> {
        Int(offset)..<(Int(offset) + Int(length))
    }

    /// The metadata block after its length, checksum, UTF-8 and JSON-object checks.
    private static func readMetadata(
        _ bytes: UnsafeRawBufferPointer, header: PackHeader, path: String
    ) throws -> Data {
        guard header.metadataLength <= UInt64(PackFormat.maximumMetadataLength) else {
            throw PackError.metadataTooLarge(
                path: path, length: header.metadataLength, limit: PackFormat.maximumMetadataLength)
        }
        let block = slice(bytes, header.metadataOffset, header.metadataLength)
        let computed = Checksum.crc32(block)
        guard computed == header.metadataChecksum else {
            throw PackError.metadataChecksumMismatch(
                path: path, stored: header.metadataChecksum, computed: computed)
        }
        guard String(validating: block, as: UTF8.self) != nil else {
            throw PackError.metadataNotUTF8(path: path)
        }
        let data = Data(block)
        try PackMetadata.checkObject(data, path: path)
        return data
    }
}
