// PackWriter: assembles a .mvad pack (metadata, tensors in the order added) and writes it
// atomically: a temporary file in the same folder, flushed, then renamed over the target.

import Foundation
import MVADEngine

/// Collects tensors and metadata, then writes a pack that `PackFile` opens. Everything is
/// checked at `write(to:)` with the same rules the reader applies, so no invalid pack is made.
///
/// FIXME(perf): every tensor is held in memory until `write(to:)`, because the table (written
/// before the data) needs each tensor's CRC; a converter for multi-GB models should stream
/// tensors to the data section first and write the header, metadata and table last.
public struct PackWriter {
    /// One tensor waiting to be written.
    private struct Pending {
        let name: String
        let dtype: PackDType
        let shape: [Int]
        let quantization: PackQuantization
        let scalesName: String
        let bytes: [UInt8]
    }

    /// The metadata block: the UTF-8 bytes of a JSON object.
    public var metadataJSON: Data
    private var pending: [Pending] = []

    /// A writer whose metadata block holds `metadataJSON` as given (checked at write).
    public init(metadataJSON: Data = Data("{}".utf8)) {
        self.metadataJSON = metadataJSON
    }

    /// A writer whose metadata block is `metadata` encoded as JSON with sorted keys.
    public init(metadata: [String: Any]) throws {
        self.metadataJSON = try PackMetadata.encode(metadata, path: "(metadata)")
    }

    /// Adds a tensor from its raw little-endian bytes. A quantised tensor (`quantization` not
    /// `.none`) names its scales tensor, which must also be added, before or after it.
    public mutating func add(
        _ name: String, dtype: PackDType, shape: [Int], bytes: [UInt8],
        quantization: PackQuantization = .none, scales: String = ""
    ) {
        pending.append(Pending(name: name, dtype: dtype, shape: shape,
                               quantization: quantization, scalesName: scales, bytes: bytes))
    }

    /// Adds an engine tensor stored as f32, or rounded to nearest-even f16 with `.float16`.
    public mutating func add(_ name: String, tensor: Tensor, as dtype: PackDType = .float32) {
        precondition(dtype == .float32 || dtype == .float16, "a Tensor is stored as f32 or f16")
        var sink = ByteSink()
        if dtype == .float16 {
            for value in tensor.scalars { sink.u16(Float16(value).bitPattern) }
        } else {
            #if _endian(little)
            tensor.withUnsafeBufferPointer { sink.append(UnsafeRawBufferPointer($0)) }
            #else
            for value in tensor.scalars { sink.u32(value.bitPattern) }
            #endif
        }
        add(name, dtype: dtype, shape: tensor.shape, bytes: sink.bytes)
    }

    /// Checks everything, then writes the pack to `path`, replacing any file there only once
    /// the new one is complete and flushed.
    public func write(to path: String) throws {
        try PackMetadata.checkObject(metadataJSON, path: path)
        let layout = try plan(path: path)
        let file = try PackOutputFile(path: path)
        do {
            try file.append(layout.head)
            for (item, entry) in zip(pending, layout.entries) {
                try file.appendZeros(upTo: entry.offset)
                try file.append(item.bytes)
            }
            try file.commit()
        } catch {
            file.discard()
            throw error
        }
    }

    /// The header, metadata and table bytes (with gaps zeroed) and the final entries.
    private func plan(path: String) throws -> (head: [UInt8], entries: [PackEntry]) {
        let metadataOffset = PackFormat.headerSize
        let tableOffset = align(metadataOffset + metadataJSON.count, PackFormat.sectionAlignment)
        let placed = try placeEntries(path: path)
        let tableLength = PackFormat.tableHeaderSize + placed.reduce(0) { $0 + $1.encodedSize }
        let dataOffset = align(tableOffset + tableLength, PackFormat.dataAlignment)
        let entries = placed.map { $0.moved(by: dataOffset) }
        _ = try PackLayout.check(entries, path: path)
        let table = PackTable.encode(entries)

        var header = PackHeader()
        header.metadataOffset = UInt64(metadataOffset)
        header.metadataLength = UInt64(metadataJSON.count)
        header.tableOffset = UInt64(tableOffset)
        header.tableLength = UInt64(table.count)
        header.dataOffset = UInt64(dataOffset)
        let dataEnd = entries.last?.byteRange.upperBound ?? dataOffset
        header.dataLength = UInt64(dataEnd - dataOffset)
        header.fileLength = UInt64(dataEnd)
        header.metadataChecksum = Checksum.crc32([UInt8](metadataJSON))
        header.tableChecksum = Checksum.crc32(table)

        var head = ByteSink()
        head.append(header.encoded())
        head.append([UInt8](metadataJSON))
        head.pad(to: PackFormat.sectionAlignment)
        head.append(table)
        head.pad(to: PackFormat.dataAlignment)
        return (head.bytes, entries)
    }

    /// Entries with offsets from 0 on, each 64-byte aligned, after the per-entry checks the
    /// reader makes (name, rank, byte count).
    private func placeEntries(path: String) throws -> [PackEntry] {
        var cursor = 0
        var entries: [PackEntry] = []
        for (index, item) in pending.enumerated() {
            try checkNames(item, index: index, path: path)
            guard item.shape.count <= PackFormat.maximumRank else {
                throw PackError.rankTooLarge(path: path, index: index, rank: item.shape.count)
            }
            let expected = try PackLayout.byteCount(
                dtype: item.dtype, shape: item.shape, scheme: item.quantization,
                tensor: item.name, path: path)
            guard expected == item.bytes.count else {
                throw PackError.byteLengthMismatch(
                    path: path, tensor: item.name, dtype: item.dtype, shape: item.shape,
                    expected: expected, found: UInt64(item.bytes.count))
            }
            cursor = align(cursor, PackFormat.dataAlignment)
            entries.append(PackEntry(
                name: item.name, dtype: item.dtype, quantization: item.quantization,
                scalesName: item.scalesName, shape: item.shape, offset: cursor,
                byteLength: expected, checksum: Checksum.crc32(item.bytes)))
            cursor += expected
        }
        return entries
    }

    private func checkNames(_ item: Pending, index: Int, path: String) throws {
        guard !item.name.isEmpty else { throw PackError.emptyName(path: path, index: index) }
        for name in [item.name, item.scalesName]
        where name.utf8.count > PackFormat.maximumNameLength {
            throw PackError.nameTooLong(path: path, index: index, length: UInt64(name.utf8.count))
        }
    }

    private func align(_ value: Int, _ alignment: Int) -> Int {
        (value + alignment - 1) / alignment * alignment
    }
}
