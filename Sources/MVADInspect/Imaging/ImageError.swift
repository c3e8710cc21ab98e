// ImageError: what can go wrong reading, decoding or writing an image, as full sentences that
// say which file, what was found and what was expected.

/// Errors of the imaging layer. `source` is a file path, or a caller-given label for bytes that
/// did not come from a file.
public enum ImageError: Error, Equatable, Sendable {
    /// The file could not be opened or read; `reason` is the system's (errno) text.
    case unreadableFile(path: String, reason: String)
    /// The file or buffer holds no bytes.
    case emptyFile(source: String)
    /// Neither a PNG signature nor a JPEG start-of-image marker; `leadingBytes` are the first
    /// (up to 16) bytes found.
    case notAnImage(source: String, leadingBytes: [UInt8])
    /// The codec failed on the data; `message` is the codec's own text.
    case corruptData(source: String, codec: String, message: String)
    /// A valid file in a variant the runtime does not decode (e.g. 12-bit or CMYK JPEG).
    case unsupportedFormat(source: String, codec: String, detail: String)
    /// The header announces more pixels than `ImageDecoder.maximumPixelCount`.
    case tooLarge(source: String, width: Int, height: Int, limit: Int)
    /// Writing an image file failed; `reason` is the system's or the codec's text.
    case writeFailed(path: String, reason: String)
}

extension ImageError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .unreadableFile(let path, let reason):
            return "Cannot read image file '\(path)': \(reason)."
        case .emptyFile(let source):
            return "Image file '\(source)' is empty (0 bytes); expected a PNG or JPEG file."
        case .notAnImage(let source, let bytes):
            return "'\(source)' is not a PNG or JPEG file: it starts with "
                + "\(ImageError.describe(bytes)). Expected the PNG signature "
                + "89 50 4E 47 0D 0A 1A 0A or the JPEG start-of-image marker FF D8 FF."
        case .corruptData(let source, let codec, let message):
            return "\(codec) data in '\(source)' is truncated or corrupt: the decoder reports "
                + "\"\(message)\"."
        case .unsupportedFormat(let source, let codec, let detail):
            return "'\(source)' is a \(codec) file the runtime cannot decode: \(detail)."
        case .tooLarge(let source, let width, let height, let limit):
            let pixels = UInt64(max(width, 0)).multipliedFullWidth(by: UInt64(max(height, 0)))
            let count = pixels.high == 0 ? "\(pixels.low)" : "more than 2^64"
            return "'\(source)' declares \(width) x \(height) pixels (\(count)); the limit "
                + "is \(limit) pixels (64 Mpx), so it was not decoded. Resize it before use."
        case .writeFailed(let path, let reason):
            return "Cannot write image file '\(path)': \(reason)."
        }
    }

    /// Hex of the bytes, their printable ASCII, and a guess at the format they belong to.
    static func describe(_ bytes: [UInt8]) -> String {
        let hex = bytes.map { hexByte($0) }.joined(separator: " ")
        let printable = bytes.map { (0x20...0x7E).contains($0) ? $0 : UInt8(ascii: ".") }
        let ascii = String(decoding: printable, as: UTF8.self)
        var text = "\(hex) (\"\(ascii)\")"
        if let guess = guessFormat(bytes) {
            text += ", which looks like \(guess)"
        }
        return text
    }

    private static func hexByte(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
    }

    /// Formats someone might hand us by mistake, recognised by their magic numbers.
    private static func guessFormat(_ bytes: [UInt8]) -> String? {
        func starts(_ prefix: [UInt8]) -> Bool { bytes.starts(with: prefix) }
        if starts(Array("GIF8".utf8)) { return "a GIF image" }
        if starts(Array("BM".utf8)) { return "a BMP image" }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) {
            return "a TIFF image"
        }
        if starts(Array("RIFF".utf8)) && bytes.count >= 12
            && Array(bytes[8..<12]) == Array("WEBP".utf8) {
            return "a WebP image"
        }
        if starts(Array("%PDF".utf8)) { return "a PDF document" }
        if starts([0x50, 0x4B, 0x03, 0x04]) { return "a ZIP archive" }
        if starts([0x1F, 0x8B]) { return "gzip-compressed data" }
        if starts([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) { return "a NumPy array file" }
        if starts([0x89, 0x50, 0x4E, 0x47]) { return "a PNG file with a damaged signature" }
        if starts([0xFF, 0xD8]) { return "a JPEG file with a damaged marker" }
        if let first = bytes.first, first == UInt8(ascii: "<") { return "an HTML or XML text" }
        if bytes.allSatisfy({ (0x20...0x7E).contains($0) || $0 == 0x0A || $0 == 0x0D
            || $0 == 0x09 }) {
            return "a text file"
        }
        return nil
    }
}
