// ImageDecoder: reads a file or bytes and decodes it as PNG or JPEG, choosing the codec by the
// content (PNG signature, JPEG start-of-image marker), never by the file name's extension.

import Foundation

/// The codecs the runtime reads.
public enum ImageFormat: String, Sendable {
    case png = "PNG"
    case jpeg = "JPEG"
}

/// Decodes PNG (libpng's simplified API) and JPEG (TurboJPEG) files into `Image`s.
public enum ImageDecoder {
    /// Largest image decoded: 64 Mpx (2^26 pixels, e.g. 8192 x 8192). Checked on the header,
    /// before any pixel buffer is allocated.
    public static let maximumPixelCount = 1 << 26

    /// Decodes the file at `url`.
    public static func decode(contentsOf url: URL) throws -> Image {
        try decode(path: url.path)
    }

    /// Decodes the file at `path`.
    public static func decode(path: String) throws -> Image {
        try decode(FileBytes.readAll(path: path), source: path)
    }

    /// Decodes encoded bytes; `source` names them in errors.
    public static func decode(_ bytes: [UInt8], source: String = "in-memory image") throws
        -> Image {
        guard !bytes.isEmpty else { throw ImageError.emptyFile(source: source) }
        switch format(of: bytes) {
        case .png?: return try PNGDecoder.decode(bytes, source: source)
        case .jpeg?: return try JPEGDecoder.decode(bytes, source: source)
        case nil: throw ImageError.notAnImage(source: source, leadingBytes: Array(bytes.prefix(16)))
        }
    }

    /// The codec of encoded bytes, from their first bytes; nil if neither PNG nor JPEG.
    public static func format(of bytes: [UInt8]) -> ImageFormat? {
        if bytes.starts(with: PNGDecoder.signature) { return .png }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        return nil
    }

    /// Throws `tooLarge` when a header announces more than `maximumPixelCount` pixels.
    static func checkPixelCount(width: Int, height: Int, source: String) throws {
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        if overflow || pixels > maximumPixelCount {
            throw ImageError.tooLarge(source: source, width: width, height: height,
                                      limit: maximumPixelCount)
        }
    }
}
