// JPEGDecoder: 8-bit grey and colour JPEGs to an Image through TurboJPEG, with accurate integer
// IDCT and fancy upsampling (the libjpeg defaults Pillow uses) and every warning made an error.

import CTurboJPEG

enum JPEGDecoder {
    /// Accurate (islow) IDCT, libjpeg warnings such as "premature end of data" stop decoding,
    /// and progressive files with absurd scan counts are refused.
    private static let flags = TJFLAG_ACCURATEDCT | TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS

    static func decode(_ bytes: [UInt8], source: String) throws -> Image {
        if let frame = JPEGFrameHeader.find(in: bytes) {
            try checkSupported(frame, source: source)
        }
        guard let handle = tjInitDecompress() else {
            throw ImageError.corruptData(source: source, codec: "JPEG",
                                         message: "TurboJPEG could not start: "
                                            + String(cString: tjGetErrorStr2(nil)))
        }
        defer { tjDestroy(handle) }

        return try bytes.withUnsafeBufferPointer { jpeg -> Image in
            var width: Int32 = 0
            var height: Int32 = 0
            var subsampling: Int32 = 0
            var colorspace: Int32 = 0
            guard tjDecompressHeader3(handle, jpeg.baseAddress, UInt(jpeg.count), &width,
                                      &height, &subsampling, &colorspace) == 0 else {
                throw failure(handle, source: source)
            }
            try ImageDecoder.checkPixelCount(width: Int(width), height: Int(height),
                                             source: source)
            if colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue) {
                throw ImageError.unsupportedFormat(
                    source: source, codec: "JPEG",
                    detail: "its colours are CMYK; expected a grey or RGB (YCbCr) JPEG")
            }

            let grey = colorspace == Int32(TJCS_GRAY.rawValue)
            let channels = grey ? 1 : 3
            let pixelFormat = grey ? TJPF_GRAY : TJPF_RGB
            let pitch = Int(width) * channels
            var pixels = [UInt8](repeating: 0, count: pitch * Int(height))
            let status = pixels.withUnsafeMutableBufferPointer { out in
                tjDecompress2(handle, jpeg.baseAddress, UInt(jpeg.count), out.baseAddress, width,
                              Int32(pitch), height, Int32(pixelFormat.rawValue), flags)
            }
            guard status == 0 else { throw failure(handle, source: source) }
            return Image(width: Int(width), height: Int(height), channels: channels,
                         samples: .uint8(pixels))
        }
    }

    /// Refuses, with a clear reason, the JPEG variants TurboJPEG 2.1 cannot decode to 8 bits.
    private static func checkSupported(_ frame: JPEGFrameHeader, source: String) throws {
        func unsupported(_ detail: String) -> ImageError {
            ImageError.unsupportedFormat(source: source, codec: "JPEG", detail: detail)
        }
        if frame.isLossless {
            throw unsupported("it is a lossless JPEG; only DCT-coded JPEGs are decoded")
        }
        if frame.precision != 8 {
            throw unsupported("it stores \(frame.precision)-bit samples; only 8-bit JPEGs are "
                                + "decoded")
        }
        if frame.components == 4 {
            throw unsupported("it has 4 colour components (CMYK or YCCK); expected 1 (grey) or 3 "
                                + "(colour)")
        }
        if frame.components != 1 && frame.components != 3 {
            throw unsupported("it has \(frame.components) colour components; expected 1 (grey) "
                                + "or 3 (colour)")
        }
    }

    /// The error TurboJPEG reported, as unsupported (libjpeg's "Unsupported ..." and "Sorry ..."
    /// messages) or as corrupt data (everything else, including warnings made fatal).
    private static func failure(_ handle: tjhandle, source: String) -> ImageError {
        let message = String(cString: tjGetErrorStr2(handle))
        let unsupported = message.hasPrefix("Unsupported") || message.hasPrefix("Sorry")
            || message.contains("not supported")
        if unsupported {
            return .unsupportedFormat(source: source, codec: "JPEG",
                                      detail: "libjpeg-turbo reports \"\(message)\"")
        }
        return .corruptData(source: source, codec: "JPEG", message: message)
    }
}

/// The fields of a JPEG's start-of-frame segment, found by walking the marker segments before
/// the first scan.
struct JPEGFrameHeader {
    let marker: UInt8
    let precision: Int
    let height: Int
    let width: Int
    let components: Int

    /// SOF3, SOF7, SOF11, SOF15: lossless (predictive) coding.
    var isLossless: Bool { marker & 0x03 == 0x03 }

    /// The first frame header, or nil if the segments end, break or reach a scan before one.
    static func find(in bytes: [UInt8]) -> JPEGFrameHeader? {
        var offset = 2                                   // after SOI
        while offset < bytes.count {
            guard bytes[offset] == 0xFF else { return nil }
            while offset < bytes.count && bytes[offset] == 0xFF { offset += 1 }   // fill bytes
            guard offset < bytes.count else { return nil }
            let marker = bytes[offset]
            offset += 1
            if marker == 0x01 || (0xD0...0xD8).contains(marker) { continue }  // no length
            if marker == 0xD9 || marker == 0xDA { return nil }                 // EOI, SOS
            guard offset + 2 <= bytes.count else { return nil }
            let length = Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
            guard length >= 2 && offset + length <= bytes.count else { return nil }
            if isFrameMarker(marker) {
                guard length >= 8 else { return nil }
                return JPEGFrameHeader(
                    marker: marker, precision: Int(bytes[offset + 2]),
                    height: Int(bytes[offset + 3]) << 8 | Int(bytes[offset + 4]),
                    width: Int(bytes[offset + 5]) << 8 | Int(bytes[offset + 6]),
                    components: Int(bytes[offset + 7]))
            }
            offset += length
        }
        return nil
    }

    /// SOF0...SOF15, except DHT (C4), JPG (C8) and DAC (CC), which share the range.
    private static func isFrameMarker(_ marker: UInt8) -> Bool {
        (0xC0...0xCF).contains(marker) && marker != 0xC4 && marker != 0xC8 && marker != 0xCC
    }
}
