// PixelFormat: the V4L2 pixel formats the capture layer negotiates (YUYV, GREY, RGB24, MJPEG),
// their FourCC codes, and how one frame's bytes become an Image.

import MVADInspect

/// A V4L2 pixel format the capture layer decodes.
public enum PixelFormat: String, ProfileChoice, Sendable {
    case yuyv = "YUYV"       // V4L2_PIX_FMT_YUYV: packed 4:2:2, Y0 U Y1 V
    case grey = "GREY"       // V4L2_PIX_FMT_GREY: 8-bit luma
    case rgb24 = "RGB24"     // V4L2_PIX_FMT_RGB24 ('RGB3'): packed R G B
    case mjpeg = "MJPEG"     // V4L2_PIX_FMT_MJPEG ('MJPG'): one JPEG per buffer
    case z16 = "Z16"         // V4L2_PIX_FMT_Z16 ('Z16 '): 16-bit little-endian depth

    /// The FourCC code, as v4l2_fourcc(a, b, c, d) builds it.
    public var fourCC: UInt32 {
        let code: String
        switch self {
        case .yuyv: code = "YUYV"
        case .grey: code = "GREY"
        case .rgb24: code = "RGB3"
        case .mjpeg: code = "MJPG"
        case .z16: code = "Z16 "
        }
        return PixelFormat.fourCC(code)
    }

    /// v4l2_fourcc of four ASCII characters.
    public static func fourCC(_ code: String) -> UInt32 {
        let bytes = Array(code.utf8)
        precondition(bytes.count == 4, "a FourCC has 4 characters, got '\(code)'")
        return UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16
            | UInt32(bytes[3]) << 24
    }

    /// The four characters of a FourCC code ("MJPG"), for messages.
    public static func name(ofFourCC code: UInt32) -> String {
        let bytes = (0..<4).map { UInt8((code >> (8 * $0)) & 0xFF) }
        if bytes.allSatisfy({ (0x20...0x7E).contains($0) }) {
            return String(decoding: bytes, as: UTF8.self)
        }
        return "0x" + String(code, radix: 16)
    }

    /// The format of a FourCC code, if the capture layer decodes it.
    public init?(fourCC code: UInt32) {
        guard let format = PixelFormat.allCases.first(where: { $0.fourCC == code }) else {
            return nil
        }
        self = format
    }

    /// Bytes per pixel of the uncompressed formats; nil for MJPEG.
    public var bytesPerPixel: Int? {
        switch self {
        case .yuyv: return 2
        case .grey: return 1
        case .rgb24: return 3
        case .z16: return 2
        case .mjpeg: return nil
        }
    }
}
