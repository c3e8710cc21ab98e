// ImageWriter: encodes 8-bit images as PNG with libpng's simplified API (in memory) and replaces
// the target file atomically, so a crash never leaves a half-written image behind.

import CPNG
import Foundation

public enum ImageWriter {
    /// Writes an 8-bit grey, grey + alpha, RGB or RGBA image as a PNG file at `url`.
    public static func writePNG(_ image: Image, to url: URL) throws {
        try writePNG(image, path: url.path)
    }

    /// Writes an 8-bit grey, grey + alpha, RGB or RGBA image as a PNG file at `path`. An existing
    /// file is replaced only once the new one is complete.
    public static func writePNG(_ image: Image, path: String) throws {
        let bytes = try encodePNG(image, name: path)
        try FileBytes.writeAtomically(bytes, to: path)
    }

    /// The PNG encoding of an 8-bit image. `name` labels the image in errors. `fast` trades
    /// file size for speed (libpng's PNG_IMAGE_FLAG_FAST: no row filters, quicker deflate).
    public static func encodePNG(_ image: Image, name: String = "in-memory image",
                                 fast: Bool = false) throws -> [UInt8] {
        guard case .uint8(let samples) = image.samples else {
            throw ImageError.writeFailed(
                path: name, reason: "the image has 16-bit samples; only 8-bit images are written "
                    + "(libpng's simplified API would store 16-bit data as linear light)")
        }
        return try samples.withUnsafeBytes { pixels in
            try encode(pixels, image: image, format: formatFlags(channels: image.channels),
                       fast: fast, name: name)
        }
    }

    /// Encodes interleaved samples (8 or 16 bits, as `format` says) of `image`'s size with
    /// libpng's simplified API: a first call measures, a second encodes into a buffer of that
    /// size. The row stride counts samples, not bytes.
    static func encode(_ pixels: UnsafeRawBufferPointer, image: Image, format: UInt32,
                       fast: Bool, name: String) throws -> [UInt8] {
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        png.width = UInt32(image.width)
        png.height = UInt32(image.height)
        png.format = format
        png.flags = fast ? UInt32(PNG_IMAGE_FLAG_FAST) : 0
        defer { png_image_free(&png) }
        let rowStride = Int32(image.width * image.channels)

        var size = 0
        guard png_image_write_to_memory(&png, nil, &size, 0, pixels.baseAddress, rowStride,
                                        nil) != 0 else { throw failure(png, name: name) }
        var encoded = [UInt8](repeating: 0, count: size)
        let written = encoded.withUnsafeMutableBytes { out in
            png_image_write_to_memory(&png, out.baseAddress, &size, 0, pixels.baseAddress,
                                      rowStride, nil)
        }
        guard written != 0 else { throw failure(png, name: name) }
        return Array(encoded.prefix(size))
    }

    /// png_image format flags of interleaved 8-bit samples with 1...4 channels.
    private static func formatFlags(channels: Int) -> UInt32 {
        let color = channels >= 3 ? UInt32(PNG_FORMAT_FLAG_COLOR) : 0
        let alpha = channels == 2 || channels == 4 ? UInt32(PNG_FORMAT_FLAG_ALPHA) : 0
        return color | alpha
    }

    private static func failure(_ png: png_image, name: String) -> ImageError {
        let message = withUnsafeBytes(of: png.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return .writeFailed(path: name, reason: "libpng reports \"\(message)\"")
    }
}
