// PackTable: the tensor table (docs/FORMAT.md, "Tensor table"): a u64 count, then one
// variable-length entry per tensor. Parsed with every field checked, and encoded by the writer.

enum PackTable {
    /// Parses and checks the table bytes; `dataSection` is the byte range entries must lie in.
    /// The count is checked against what the table's length can hold before anything is
    /// allocated, so a hostile count costs nothing.
    static func parse(
        _ table: UnsafeRawBufferPointer, dataSection: Range<Int>, path: String
    ) throws -> [PackEntry] {
        var cursor = ByteCursor(table)
        guard let count = cursor.u64() else {
            throw PackError.tableTooShort(path: path, length: UInt64(table.count))
        }
        let fitting = (table.count - PackFormat.tableHeaderSize) / PackFormat.entryFixedSize
        let limit = min(PackFormat.maximumTensorCount, fitting)
        guard count <= UInt64(limit) else {
            throw PackError.tensorCountTooLarge(path: path, count: count, limit: limit)
        }

        var entries: [PackEntry] = []
        entries.reserveCapacity(Int(count))
        for index in 0..<Int(count) {
            var reader = EntryReader(path: path, index: index, dataSection: dataSection)
            entries.append(try reader.read(&cursor))
        }
        guard cursor.remaining == 0 else {
            throw PackError.tableTrailingBytes(
                path: path, used: cursor.position, length: table.count)
        }
        return entries
    }

    /// The encoded table for `entries`, whose offsets and checksums are final.
    static func encode(_ entries: [PackEntry]) -> [UInt8] {
        var sink = ByteSink()
        sink.u64(UInt64(entries.count))
        for entry in entries {
            sink.u8(entry.dtype.rawValue)
            sink.u8(entry.quantization.rawValue)
            sink.u8(UInt8(entry.shape.count))
            sink.u8(0)
            sink.u32(UInt32(entry.name.utf8.count))
            sink.u32(UInt32(entry.scalesName.utf8.count))
            sink.u32(entry.checksum)
            sink.u64(UInt64(entry.offset))
            sink.u64(UInt64(entry.byteLength))
            for extent in entry.shape { sink.u64(UInt64(extent)) }
            sink.append(Array(entry.name.utf8))
            sink.append(Array(entry.scalesName.utf8))
            sink.pad(to: 8)
        }
        return sink.bytes
    }
}

/// Reads and checks one entry: fixed fields, shape, names, then size and placement.
private struct EntryReader {
    let path: String
    let index: Int
    let dataSection: Range<Int>

    mutating func read(_ cursor: inout ByteCursor) throws -> PackEntry {
        let start = cursor.position
        guard cursor.remaining >= PackFormat.entryFixedSize else {
            throw truncated(needed: PackFormat.entryFixedSize, cursor)
        }
        let dtypeCode = cursor.u8() ?? 0
        let schemeCode = cursor.u8() ?? 0
        let rank = Int(cursor.u8() ?? 0)
        _ = cursor.u8()
        let nameLength = UInt64(cursor.u32() ?? 0)
        let scalesLength = UInt64(cursor.u32() ?? 0)
        let checksum = cursor.u32() ?? 0
        let offset = cursor.u64() ?? 0
        let length = cursor.u64() ?? 0

        guard rank <= PackFormat.maximumRank else {
            throw PackError.rankTooLarge(path: path, index: index, rank: rank)
        }
        try checkNameLength(nameLength, allowEmpty: false)
        try checkNameLength(scalesLength, allowEmpty: true)
        let size = PackEntry.encodedSize(
            rank: rank, nameBytes: Int(nameLength), scalesNameBytes: Int(scalesLength))
        guard cursor.remaining >= size - PackFormat.entryFixedSize else {
            let remaining = cursor.remaining + PackFormat.entryFixedSize
            throw PackError.entryTruncated(
                path: path, index: index, needed: size, remaining: remaining)
        }

        var rawShape: [UInt64] = []
        for _ in 0..<rank { rawShape.append(cursor.u64() ?? 0) }
        let name = try text(cursor.span(Int(nameLength)))
        let scalesName = try text(cursor.span(Int(scalesLength)))
        _ = cursor.skip(size - (cursor.position - start))

        guard let dtype = PackDType(rawValue: dtypeCode) else {
            throw PackError.unknownDType(path: path, tensor: name, code: dtypeCode)
        }
        guard let scheme = PackQuantization(rawValue: schemeCode) else {
            throw PackError.unknownQuantization(path: path, tensor: name, code: schemeCode)
        }
        let shape = try checkedShape(rawShape, tensor: name)
        let expected = try PackLayout.byteCount(dtype: dtype, shape: shape, scheme: scheme,
                                                tensor: name, path: path)
        guard UInt64(expected) == length else {
            throw PackError.byteLengthMismatch(
                path: path, tensor: name, dtype: dtype, shape: shape, expected: expected,
                found: length)
        }
        try checkPlacement(offset: offset, length: length, tensor: name)
        return PackEntry(
            name: name, dtype: dtype, quantization: scheme, scalesName: scalesName,
            shape: shape, offset: Int(offset), byteLength: expected, checksum: checksum)
    }

    private func truncated(needed: Int, _ cursor: ByteCursor) -> PackError {
        .entryTruncated(path: path, index: index, needed: needed, remaining: cursor.remaining)
    }

    private func checkNameLength(_ length: UInt64, allowEmpty: Bool) throws {
        guard length > 0 || allowEmpty else { throw PackError.emptyName(path: path, index: index) }
        guard length <= UInt64(PackFormat.maximumNameLength) else {
            throw PackError.nameTooLong(path: path, index: index, length: length)
        }
    }

    private func text(_ span: UnsafeRawBufferPointer?) throws -> String {
        guard let span, let text = String(validating: span, as: UTF8.self) else {
            throw PackError.nameNotUTF8(path: path, index: index)
        }
        return text
    }

    /// Extents as Int; any extent beyond Int.max cannot describe data in a file.
    private func checkedShape(_ raw: [UInt64], tensor: String) throws -> [Int] {
        try raw.map { extent in
            guard extent <= UInt64(Int.max) else {
                throw PackError.extentTooLarge(path: path, tensor: tensor, extent: extent)
            }
            return Int(extent)
        }
    }

    /// The bytes lie inside the data section and start on a 64-byte boundary.
    private func checkPlacement(offset: UInt64, length: UInt64, tensor: String) throws {
        let (end, overflow) = offset.addingReportingOverflow(length)
        guard !overflow, offset >= UInt64(dataSection.lowerBound),
              end <= UInt64(dataSection.upperBound)
        else {
            throw PackError.tensorOutOfBounds(
                path: path, tensor: tensor, offset: offset, length: length,
                dataSection: dataSection)
        }
        guard offset % UInt64(PackFormat.dataAlignment) == 0 else {
            throw PackError.tensorMisaligned(path: path, tensor: tensor, offset: offset)
        }
    }
}
