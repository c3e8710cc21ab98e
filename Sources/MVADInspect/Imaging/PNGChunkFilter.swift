// PNGChunkFilter: removes the colour-space chunks (gAMA, cHRM, sRGB, iCCP) from PNG bytes before
// libpng sees them, so that its simplified API returns the stored samples unconverted.

/// libpng's simplified API converts samples whenever the file's declared gamma differs from the
/// output's (sRGB for 8-bit output, linear for 16-bit output). Pillow and torchvision ignore
/// these chunks and use the stored values, so the runtime does too: without the chunks libpng
/// assumes sRGB for 8-bit and linear for 16-bit files, which equals the output encoding, and
/// leaves every sample as stored.
///
/// For 16-bit files the tRNS (colour key) chunk is removed as well: libpng would turn it into an
/// alpha channel and premultiply the colours by it. The key colour's transparency is therefore
/// ignored for 16-bit images; the colours stay exact.
///
/// Whole chunks (length, type, data, CRC) are dropped, so the stream stays valid. Anything
/// malformed (a truncated chunk, a bad length) is passed through unchanged for libpng to report.
enum PNGChunkFilter {
    private static let colorSpaceChunks: Set<String> = ["gAMA", "cHRM", "sRGB", "iCCP"]

    static func prepare(_ bytes: [UInt8]) -> [UInt8] {
        let signatureLength = PNGDecoder.signature.count
        guard bytes.count > signatureLength else { return bytes }
        var out = [UInt8]()
        out.reserveCapacity(bytes.count)
        out.append(contentsOf: bytes[0..<signatureLength])

        var offset = signatureLength
        var sixteenBit = false
        var seenImageData = false
        while offset + 12 <= bytes.count {
            let length = Int(readUInt32(bytes, at: offset))
            let end = offset + 12 + length
            guard end <= bytes.count else { break }
            let type = String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self)

            if type == "IHDR" && length >= 9 {
                sixteenBit = bytes[offset + 8 + 8] == 16
            }
            if type == "IDAT" {
                seenImageData = true
            }
            let drop = !seenImageData
                && (colorSpaceChunks.contains(type) || (sixteenBit && type == "tRNS"))
            if !drop {
                out.append(contentsOf: bytes[offset..<end])
            }
            offset = end
            if type == "IEND" { break }
        }
        out.append(contentsOf: bytes[offset...])
        return out
    }

    /// Big-endian 32-bit value at `offset` (the caller checked the bounds).
    private static func readUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | UInt32($1) }
    }
}
