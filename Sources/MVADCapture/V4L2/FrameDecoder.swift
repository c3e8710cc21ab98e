// FrameDecoder: one dequeued buffer's bytes to an Image, and the checks that make a frame
// unusable: short uncompressed frames, corrupt or truncated JPEGs (a libjpeg warning counts),
// frames of the wrong size.

import MVADInspect

/// Why a dequeued buffer was not used.
public enum FrameProblem: Error, Equatable, Sendable, CustomStringConvertible {
    /// The driver flagged the buffer V4L2_BUF_FLAG_ERROR.
    case errorFlag
    /// Fewer bytes than a whole uncompressed frame.
    case short(bytesUsed: Int, expected: Int)
    /// The JPEG did not decode cleanly; `message` is libjpeg-turbo's.
    case corruptJPEG(message: String)
    /// The frame decoded to a size other than the negotiated one.
    case wrongSize(width: Int, height: Int, expectedWidth: Int, expectedHeight: Int)
    /// Mean brightness outside the light's expected band (a light that did not fire, or a
    /// stuck one).
    case brightnessOutOfBand(mean: Double, minimum: Double, maximum: Double)

    public var description: String {
        switch self {
        case .errorFlag: return "driver flagged the buffer as an error"
        case .short(let used, let expected):
            return "short frame: \(used) bytes, expected \(expected)"
        case .corruptJPEG(let message): return "corrupt JPEG: \(message)"
        case .wrongSize(let w, let h, let ew, let eh):
            return "frame is \(w)x\(h), expected \(ew)x\(eh)"
        case .brightnessOutOfBand(let mean, let min, let max):
            return "mean brightness \(Int(mean.rounded())) outside \(Int(min))...\(Int(max))"
        }
    }
}

/// Decodes frames of one negotiated format.
public struct FrameDecoder: Sendable {
    public let format: NegotiatedFormat

    public init(format: NegotiatedFormat) {
        self.format = format
    }

    /// The bytes a complete uncompressed frame needs (all rows at the driver's stride; the
    /// last row only needs its pixels; YUYV stores whole pixel pairs).
    public var minimumBytes: Int {
        guard let bpp = format.pixelFormat.bytesPerPixel else { return 1 }
        let lastRow = format.pixelFormat == .yuyv ? (format.width + 1) / 2 * 4 : format.width * bpp
        return format.bytesPerLine * (format.height - 1) + lastRow
    }

    /// The image in a buffer holding exactly `bytes` (the buffer's first bytesused bytes).
    public func decode(_ bytes: [UInt8]) -> Result<Image, FrameProblem> {
        if format.pixelFormat != .mjpeg && bytes.count < minimumBytes {
            return .failure(.short(bytesUsed: bytes.count, expected: minimumBytes))
        }
        let image: Image
        switch format.pixelFormat {
        case .grey: image = plane(bytes, channels: 1)
        case .rgb24: image = plane(bytes, channels: 3)
        case .yuyv: image = yuyvToRGB(bytes)
        case .z16: image = depth(bytes)
        case .mjpeg:
            do {
                image = try ImageDecoder.decode(bytes, source: "MJPEG frame")
            } catch let error as ImageError {
                return .failure(.corruptJPEG(message: Self.jpegMessage(error)))
            } catch {
                return .failure(.corruptJPEG(message: "\(error)"))
            }
        }
        guard image.width == format.width && image.height == format.height else {
            return .failure(.wrongSize(width: image.width, height: image.height,
                                       expectedWidth: format.width, expectedHeight: format.height))
        }
        return .success(image)
    }

    private static func jpegMessage(_ error: ImageError) -> String {
        switch error {
        case .corruptData(_, _, let message): return message
        case .emptyFile: return "no bytes"
        case .notAnImage: return "no JPEG start-of-image marker"
        default: return error.description
        }
    }

    /// GREY or RGB24 rows, dropping any stride padding.
    private func plane(_ bytes: [UInt8], channels: Int) -> Image {
        let rowBytes = format.width * channels
        var pixels = [UInt8](repeating: 0, count: rowBytes * format.height)
        for row in 0..<format.height {
            let source = row * format.bytesPerLine
            pixels.replaceSubrange(row * rowBytes..<(row + 1) * rowBytes,
                                   with: bytes[source..<source + rowBytes])
        }
        return Image(width: format.width, height: format.height, channels: channels,
                     samples: .uint8(pixels))
    }

    /// Z16 rows (little-endian 16-bit samples) as a 16-bit grey image.
    private func depth(_ bytes: [UInt8]) -> Image {
        var samples = [UInt16](repeating: 0, count: format.width * format.height)
        for row in 0..<format.height {
            for x in 0..<format.width {
                let offset = row * format.bytesPerLine + x * 2
                samples[row * format.width + x] = UInt16(bytes[offset])
                    | UInt16(bytes[offset + 1]) << 8
            }
        }
        return Image(width: format.width, height: format.height, channels: 1,
                     samples: .uint16(samples))
    }

    /// YUYV (Y0 U Y1 V per two pixels) to RGB with ITU-R BT.601 limited-range coefficients in
    /// 8-bit fixed point, as UVC cameras encode it.
    private func yuyvToRGB(_ bytes: [UInt8]) -> Image {
        var pixels = [UInt8](repeating: 0, count: format.width * format.height * 3)
        for row in 0..<format.height {
            for x in 0..<format.width {
                let pair = row * format.bytesPerLine + (x / 2) * 4
                let rgb = FrameDecoder.rgb(y: bytes[pair + (x % 2) * 2], u: bytes[pair + 1],
                                           v: bytes[pair + 3])
                let out = (row * format.width + x) * 3
                pixels[out] = rgb.0
                pixels[out + 1] = rgb.1
                pixels[out + 2] = rgb.2
            }
        }
        return Image(width: format.width, height: format.height, channels: 3,
                     samples: .uint8(pixels))
    }

    /// One BT.601 limited-range Y'CbCr sample to R'G'B'.
    static func rgb(y: UInt8, u: UInt8, v: UInt8) -> (UInt8, UInt8, UInt8) {
        let c = 298 * (Int(y) - 16)
        let d = Int(u) - 128
        let e = Int(v) - 128
        func clip(_ value: Int) -> UInt8 { UInt8(min(255, max(0, (value + 128) >> 8))) }
        return (clip(c + 409 * e), clip(c - 100 * d - 208 * e), clip(c + 516 * d))
    }
}
