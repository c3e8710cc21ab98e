// PackFile+Verify: the full check of a pack's tensor data, every CRC-32 and every padding byte
// of the data section, which opening leaves out to stay cheap.

/// What `verify()` covered.
public struct PackVerification: Sendable, Equatable {
    /// Number of tensors whose checksum matched.
    public let tensorCount: Int
    /// Bytes of tensor data checksummed.
    public let tensorBytes: Int
    /// Bytes of zero padding checked between sections and between tensors.
    public let paddingBytes: Int
}

extension PackFile {
    /// Checks every tensor's CRC-32, in offset order, and that every padding byte (between
    /// the sections, and before, between and after the tensors) is zero. Throws on the first
    /// failure. Reads the whole file.
    public func verify() throws -> PackVerification {
        var paddingBytes = 0
        let gaps = [PackFormat.headerSize..<metadataSection.lowerBound,
                    metadataSection.upperBound..<tableSection.lowerBound,
                    tableSection.upperBound..<dataSection.lowerBound]
        for gap in gaps {
            try checkPadding(gap)
            paddingBytes += gap.count
        }

        var cursor = dataSection.lowerBound
        var tensorBytes = 0
        for entry in entries {
            try checkPadding(cursor..<entry.offset)
            paddingBytes += entry.offset - cursor
            try check(entry, span(of: entry))
            tensorBytes += entry.byteLength
            cursor = entry.byteRange.upperBound
        }
        try checkPadding(cursor..<dataSection.upperBound)
        paddingBytes += dataSection.upperBound - cursor
        return PackVerification(
            tensorCount: entries.count, tensorBytes: tensorBytes, paddingBytes: paddingBytes)
    }

    /// Throws `paddingNotZero` at the first non-zero byte of `range` (file offsets).
    private func checkPadding(_ range: Range<Int>) throws {
        guard !range.isEmpty else { return }
        let bytes = span(of: range)
        if let index = bytes.firstIndex(where: { $0 != 0 }) {
            throw PackError.paddingNotZero(path: path, offset: range.lowerBound + index)
        }
    }
}
