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
        let format = UInt32(PNG_FORMAT_FLAG_LINEAR)
            | (image.channels == 3 ? UInt32(PNG_FORMAT_FLAG_COLOR) : 0)
        return try samples.withUnsafeBytes { pixels in
            try encode(pixels, image: image, format: format, fast: fast, name: name)
        }
    }
}
