// Checksum: CRC-32 as zlib computes it (polynomial 0xEDB88320, reflected, initial and final
// XOR 0xFFFFFFFF), the checksum of every section and tensor of a pack.

import CZlib

enum Checksum {
    /// CRC-32 of `bytes`; fed to zlib in pieces, since its length argument is 32 bits wide.
    static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc = CZlib.crc32(0, nil, 0)
        guard let base = bytes.baseAddress else { return UInt32(crc) }
        var offset = 0
        while offset < bytes.count {
            let piece = min(bytes.count - offset, 1 << 30)
            let start = (base + offset).assumingMemoryBound(to: UInt8.self)
            crc = CZlib.crc32(crc, start, uInt(piece))
            offset += piece
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    /// CRC-32 of an array of bytes.
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { crc32($0) }
    }
}
