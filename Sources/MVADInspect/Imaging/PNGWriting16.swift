// ImageWriter.encodePNG16: 16-bit grey or RGB PNGs (e.g. depth maps) through libpng's
// simplified API, which takes native-endian samples and stores them big-endian, unchanged.

import CPNG

extension ImageWriter {
    /// The PNG encoding of an opaque 16-bit grey or RGB image. The samples are stored exactly;
    /// libpng's simplified API also writes a gAMA chunk of 1.0 (linear), which mvad's reader
    /// and Pillow ignore. `name` labels the image in errors; `fast` as for `encodePNG`.
    public static func encodePNG16(_ image: Image, name: String = "in-memory image",
                                   fast: Bool = false) throws -> [UInt8] {
        guard case .uint16(let samples) = image.samples else {
            throw ImageError.writeFailed(path: name, reason: "the image has 8-bit samples; "
                                             + "encodePNG16 writes 16-bit images (use encodePNG)")
        }
        guard image.channels == 1 || image.channels == 3 else {
            throw ImageError.writeFailed(
                path: name, reason: "the image has \(image.channels) channels; 16-bit PNGs are "
                    + "written as grey (1) or RGB (3) only, since libpng premultiplies alpha")
        }
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        png.width = UInt32(image.width)
        png.height = UInt32(image.height)
        png.format = UInt32(PNG_FORMAT_FLAG_LINEAR)
            | (image.channels == 3 ? UInt32(PNG_FORMAT_FLAG_COLOR) : 0)
        png.flags = fast ? UInt32(PNG_IMAGE_FLAG_FAST) : 0
        defer { png_image_free(&png) }
        // The row stride of the simplified API counts samples, not bytes.
        let rowStride = Int32(image.width * image.channels)

        var size = 0
        let measured = samples.withUnsafeBytes { pixels in
            png_image_write_to_memory(&png, nil, &size, 0, pixels.baseAddress, rowStride, nil)
        }
        guard measured != 0 else { throw failure16(png, name: name) }
        var encoded = [UInt8](repeating: 0, count: size)
        let written = encoded.withUnsafeMutableBytes { out in
            samples.withUnsafeBytes { pixels in
                png_image_write_to_memory(&png, out.baseAddress, &size, 0, pixels.baseAddress,
                                          rowStride, nil)
            }
        }
        guard written != 0 else { throw failure16(png, name: name) }
        return Array(encoded.prefix(size))
    }

    private static func failure16(_ png: png_image, name: String) -> ImageError {
        let message = withUnsafeBytes(of: png.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return .writeFailed(path: name, reason: "libpng reports \"\(message)\"")
    }
}
