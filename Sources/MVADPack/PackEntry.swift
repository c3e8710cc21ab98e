// PackEntry: one validated row of a pack's tensor table (name, type, shape, where its bytes are).

/// A tensor's table entry. Entries handed out by `PackFile` have passed every check at open:
/// the byte range lies inside the data section, is 64-byte aligned and matches dtype x shape.
public struct PackEntry: Sendable, Equatable {
    /// The tensor's name, unique in the pack.
    public let name: String
    /// Element type of the stored bytes.
    public let dtype: PackDType
    /// Quantisation scheme; `.none` for plain tensors.
    public let quantization: PackQuantization
    /// Name of the tensor holding the scales; empty when `quantization` is `.none`.
    public let scalesName: String
    /// Extents, outermost first (row-major, as PyTorch stores a contiguous tensor).
    public let shape: [Int]
    /// Absolute offset of the first byte in the file.
    public let offset: Int
    /// Number of bytes: dtype size x product of the shape (the panel layout's size for
    /// `int8Panels`).
    public let byteLength: Int
    /// CRC-32 (zlib polynomial) of the tensor's bytes.
    public let checksum: UInt32

    /// Number of elements (1 for a scalar).
    /// Elements of `shape` (the table check bounded their byte size).
    public var elementCount: Int { shape.reduce(1, *) }

    /// The bytes of the file this tensor occupies.
    public var byteRange: Range<Int> { offset..<(offset + byteLength) }

    /// Bytes this entry takes in the table: fixed fields, shape, both names, zero padding to 8.
    var encodedSize: Int {
        PackEntry.encodedSize(rank: shape.count, nameBytes: name.utf8.count,
                              scalesNameBytes: scalesName.utf8.count)
    }

    /// The same entry with its data `distance` bytes further into the file.
    func moved(by distance: Int) -> PackEntry {
        PackEntry(name: name, dtype: dtype, quantization: quantization, scalesName: scalesName,
                  shape: shape, offset: offset + distance, byteLength: byteLength,
                  checksum: checksum)
    }

    static func encodedSize(rank: Int, nameBytes: Int, scalesNameBytes: Int) -> Int {
        let unpadded = PackFormat.entryFixedSize + 8 * rank + nameBytes + scalesNameBytes
        return (unpadded + 7) / 8 * 8
    }
}
