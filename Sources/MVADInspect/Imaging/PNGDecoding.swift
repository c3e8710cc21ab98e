// PNGDecoder: PNG bytes to an Image through libpng's simplified API (png_image_*), which reports
// errors in `image.message` instead of long-jumping. Samples come back exactly as stored.

import CPNG

enum PNGDecoder {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Decodes a PNG of any colour type and bit depth: 1/2/4/8-bit grey and palette images come
    /// back as 8-bit grey, RGB or RGBA (palette transparency becomes alpha); 16-bit images keep
    /// 16 bits. Colour-space chunks are ignored, as Pillow does (see `PNGChunkFilter`).
    static func decode(_ bytes: [UInt8], source: String) throws -> Image {
        let prepared = PNGChunkFilter.prepare(bytes)
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }

        return try prepared.withUnsafeBytes { memory -> Image in
            guard png_image_begin_read_from_memory(&image, memory.baseAddress, memory.count) != 0
            else {
                throw ImageError.corruptData(source: source, codec: "PNG",
                                             message: message(of: image))
            }
            let width = Int(image.width)
            let height = Int(image.height)
            try ImageDecoder.checkPixelCount(width: width, height: height, source: source)

            // The file's own layout, expanded from a palette if it has one. With LINEAR (16-bit
            // files) and no alpha, input and output gamma are both linear: no conversion.
            let format = image.format & ~UInt32(PNG_FORMAT_FLAG_COLORMAP)
            image.format = format
            let channels = Int(format & (PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)) + 1
            let sixteenBit = format & PNG_FORMAT_FLAG_LINEAR != 0
            let stride = width * channels
            guard let rowStride = Int32(exactly: stride) else {
                throw ImageError.tooLarge(source: source, width: width, height: height,
                                          limit: ImageDecoder.maximumPixelCount)
            }

            let samples: Image.Samples
            if sixteenBit {
                var buffer = [UInt16](repeating: 0, count: stride * height)
                try finish(&image, into: &buffer, rowStride: rowStride, source: source)
                samples = .uint16(buffer)
            } else {
                var buffer = [UInt8](repeating: 0, count: stride * height)
                try finish(&image, into: &buffer, rowStride: rowStride, source: source)
                samples = .uint8(buffer)
            }
            let decoded = Image(width: width, height: height, channels: channels, samples: samples)
            if sixteenBit && decoded.hasAlpha {
                try requireOpaque(decoded, source: source)
            }
            return decoded
        }
    }

    /// Reads the pixels into `buffer` (one element per sample) and frees libpng's state.
    private static func finish<T>(_ image: inout png_image, into buffer: inout [T],
                                  rowStride: Int32, source: String) throws {
        let done = buffer.withUnsafeMutableBytes { pixels in
            png_image_finish_read(&image, nil, pixels.baseAddress, rowStride, nil)
        }
        guard done != 0 else {
            throw ImageError.corruptData(source: source, codec: "PNG", message: message(of: image))
        }
    }

    /// libpng's simplified API premultiplies colour by alpha when it returns 16-bit (linear)
    /// samples, so colours of translucent pixels cannot be recovered exactly; opaque pixels are
    /// unchanged. Rather than return altered values, such files are refused.
    private static func requireOpaque(_ image: Image, source: String) throws {
        guard case .uint16(let values) = image.samples else { return }
        let alpha = image.channels - 1
        for pixel in 0..<(image.width * image.height)
        where values[pixel * image.channels + alpha] != UInt16.max {
            throw ImageError.unsupportedFormat(
                source: source, codec: "PNG",
                detail: "it is a 16-bit image with partly transparent pixels (the first at x "
                    + "\(pixel % image.width), y \(pixel / image.width)), whose exact colours "
                    + "libpng's simplified API cannot return (it premultiplies them by alpha); "
                    + "save it with 8 bits per sample or without an alpha channel")
        }
    }

    /// The NUL-terminated message libpng left in the png_image.
    private static func message(of image: png_image) -> String {
        let text = withUnsafeBytes(of: image.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return text.isEmpty ? "unknown libpng error" : text
    }
}
