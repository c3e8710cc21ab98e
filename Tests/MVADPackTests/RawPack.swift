// RawPack: a second, deliberately permissive encoder of the .mvad layout, written from
// docs/FORMAT.md alone, so tests can build files the real writer refuses to make.

/// One table entry exactly as it will be encoded; nothing is checked.
struct RawEntry {
    var dtype: UInt8 = 1
    var scheme: UInt8 = 0
    var name: [UInt8]
    var scales: [UInt8] = []
    var shape: [UInt64]
    /// Offset from the start of the data section (added to it with wrap-around).
    var relativeOffset: UInt64 = 0
    var length: UInt64
    var checksum: UInt32 = 0
    /// Rank written to the entry; defaults to shape.count.
    var rank: UInt8? = nil

    init(_ name: String, shape: [UInt64], length: UInt64, at offset: UInt64 = 0) {
        self.name = Array(name.utf8)
        self.shape = shape
        self.length = length
        self.relativeOffset = offset
    }
}

/// A whole file; `bytes()` lays it out as FORMAT.md says and fills in every checksum.
struct RawPack {
    var major: UInt32 = 1
    var minor: UInt32 = 0
    var flags: UInt64 = 0
    var metadata: [UInt8] = Array("{\"a\":1}".utf8)
    var entries: [RawEntry] = []
    var countOverride: UInt64? = nil
    var data: [UInt8] = []
    /// Fills each entry's checksum from `data` when its range lies inside it.
    var fillChecksums = true

    func bytes() -> [UInt8] {
        let metadataOffset = 128
        var tableOffset = metadataOffset + metadata.count
        tableOffset = (tableOffset + 7) / 8 * 8
        let tableWithoutOffsets = table(dataOffset: 0)
        var dataOffset = tableOffset + tableWithoutOffsets.count
        dataOffset = (dataOffset + 63) / 64 * 64
        let table = table(dataOffset: UInt64(dataOffset))
        let fileLength = dataOffset + data.count

        var file: [UInt8] = Array("MVADPACK".utf8)
        file.appendU32(major)
        file.appendU32(minor)
        for field in [flags, UInt64(metadataOffset), UInt64(metadata.count), UInt64(tableOffset),
                      UInt64(table.count), UInt64(dataOffset), UInt64(data.count),
                      UInt64(fileLength)] {
            file.appendU64(field)
        }
        file.appendU32(crc(metadata))
        file.appendU32(crc(table))
        file.padZeros(to: 124)
        file.appendU32(crc(file))
        file += metadata
        file.padZeros(to: 8)
        file += table
        file.padZeros(to: 64)
        file += data
        return file
    }

    private func table(dataOffset: UInt64) -> [UInt8] {
        var table: [UInt8] = []
        table.appendU64(countOverride ?? UInt64(entries.count))
        for entry in entries {
            table += [entry.dtype, entry.scheme, entry.rank ?? UInt8(entry.shape.count), 0]
            table.appendU32(UInt32(entry.name.count))
            table.appendU32(UInt32(entry.scales.count))
            table.appendU32(checksum(of: entry))
            table.appendU64(dataOffset &+ entry.relativeOffset)
            table.appendU64(entry.length)
            for extent in entry.shape { table.appendU64(extent) }
            table += entry.name + entry.scales
            table.padZeros(to: 8)
        }
        return table
    }

    private func checksum(of entry: RawEntry) -> UInt32 {
        let (end, overflow) = entry.relativeOffset.addingReportingOverflow(entry.length)
        guard fillChecksums, !overflow, end <= UInt64(data.count) else { return entry.checksum }
        return crc(Array(data[Int(entry.relativeOffset)..<Int(end)]))
    }
}
