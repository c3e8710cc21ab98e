// PackHeader: the fixed 128-byte header at offset 0 of a pack (docs/FORMAT.md, "Header"),
// parsed and checked against the file, and encoded by the writer.

/// Where the sections lie and what their checksums are. Once `init(bytes:path:)` returns,
/// the sections are in order, aligned, inside the file, and the file has the declared size.
struct PackHeader: Equatable {
    var minorVersion: UInt32 = PackFormat.minorVersion
    var flags: UInt64 = 0
    var metadataOffset: UInt64 = 0
    var metadataLength: UInt64 = 0
    var tableOffset: UInt64 = 0
    var tableLength: UInt64 = 0
    var dataOffset: UInt64 = 0
    var dataLength: UInt64 = 0
    var fileLength: UInt64 = 0
    var metadataChecksum: UInt32 = 0
    var tableChecksum: UInt32 = 0

    init() {}

    /// Parses the header at the start of `bytes` (the whole file) and checks the layout.
    init(bytes: UnsafeRawBufferPointer, path: String) throws {
        guard bytes.count >= PackFormat.headerSize else {
            throw PackError.fileTooShort(path: path, size: bytes.count)
        }
        var cursor = ByteCursor(UnsafeRawBufferPointer(rebasing: bytes[0..<PackFormat.headerSize]))
        let magic = Array(cursor.span(8) ?? UnsafeRawBufferPointer(start: nil, count: 0))
        guard magic == PackFormat.magic else { throw PackError.badMagic(path: path, found: magic) }
        let major = cursor.u32() ?? 0
        minorVersion = cursor.u32() ?? 0
        guard major == PackFormat.majorVersion else {
            throw PackError.unsupportedMajorVersion(path: path, major: major, minor: minorVersion)
        }

        let checked = UnsafeRawBufferPointer(
            rebasing: bytes[0..<PackFormat.headerChecksummedSize])
        let stored = UInt32(littleEndian: bytes.loadUnaligned(
            fromByteOffset: PackFormat.headerChecksummedSize, as: UInt32.self))
        let computed = Checksum.crc32(checked)
        guard stored == computed else {
            throw PackError.headerChecksumMismatch(path: path, stored: stored, computed: computed)
        }

        flags = cursor.u64() ?? 0
        metadataOffset = cursor.u64() ?? 0
        metadataLength = cursor.u64() ?? 0
        tableOffset = cursor.u64() ?? 0
        tableLength = cursor.u64() ?? 0
        dataOffset = cursor.u64() ?? 0
        dataLength = cursor.u64() ?? 0
        fileLength = cursor.u64() ?? 0
        metadataChecksum = cursor.u32() ?? 0
        tableChecksum = cursor.u32() ?? 0
        guard flags == 0 else { throw PackError.unknownFlags(path: path, flags: flags) }

        try checkSections(path: path)
        try checkFileSize(bytes.count, path: path)
    }

    /// The three sections as (name, offset, length, alignment), in file order.
    private var sections: [(name: String, offset: UInt64, length: UInt64, alignment: Int)] {
        [("metadata block", metadataOffset, metadataLength, PackFormat.sectionAlignment),
         ("tensor table", tableOffset, tableLength, PackFormat.sectionAlignment),
         ("data section", dataOffset, dataLength, PackFormat.dataAlignment)]
    }

    /// Sections lie inside the declared file, aligned, in order, data ending the file.
    private func checkSections(path: String) throws {
        var previous = (name: "header", end: UInt64(PackFormat.headerSize))
        for section in sections {
            let (end, overflow) = section.offset.addingReportingOverflow(section.length)
            guard !overflow, end <= fileLength else {
                throw PackError.sectionOutOfBounds(
                    path: path, section: section.name, offset: section.offset,
                    length: section.length, fileSize: Int(clamping: fileLength))
            }
            guard section.offset % UInt64(section.alignment) == 0 else {
                throw PackError.sectionMisaligned(
                    path: path, section: section.name, offset: section.offset,
                    alignment: section.alignment)
            }
            guard section.offset >= previous.end else {
                throw PackError.sectionsOutOfOrder(
                    path: path, earlier: previous.name, later: section.name,
                    earlierEnd: previous.end, laterStart: section.offset)
            }
            previous = (section.name, end)
        }
        guard previous.end == fileLength else {
            throw PackError.trailingBytes(
                path: path, declaredSize: previous.end, actualSize: Int(clamping: fileLength))
        }
    }

    /// The file holds exactly the declared number of bytes; a short file names the section
    /// its end falls in.
    private func checkFileSize(_ size: Int, path: String) throws {
        let actual = UInt64(size)
        guard actual >= fileLength else {
            let cut = sections.first { actual < $0.offset + $0.length }
            throw PackError.truncated(
                path: path, declaredSize: fileLength, actualSize: size,
                section: cut?.name ?? "data section")
        }
        guard actual == fileLength else {
            throw PackError.trailingBytes(path: path, declaredSize: fileLength, actualSize: size)
        }
    }

    /// The 128 header bytes, checksum included.
    func encoded() -> [UInt8] {
        var sink = ByteSink()
        sink.append(PackFormat.magic)
        sink.u32(PackFormat.majorVersion)
        sink.u32(minorVersion)
        for field in [flags, metadataOffset, metadataLength, tableOffset, tableLength,
                      dataOffset, dataLength, fileLength] {
            sink.u64(field)
        }
        sink.u32(metadataChecksum)
        sink.u32(tableChecksum)
        var bytes = sink.bytes
        bytes += [UInt8](repeating: 0, count: PackFormat.headerChecksummedSize - bytes.count)
        let checksum = Checksum.crc32(bytes)
        withUnsafeBytes(of: checksum.littleEndian) { bytes.append(contentsOf: $0) }
        return bytes
    }
}
