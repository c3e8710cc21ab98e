// FrameEncoder: what an emulated camera writes into a buffer: RGB pixels as GREY, RGB24, YUYV
// (BT.601 limited range) or an MJPEG frame (TurboJPEG), and the faults cameras produce.

import CTurboJPEG
import MVADCapture
import MVADInspect

/// A fault injected into one emulated frame.
public enum FrameFault: Equatable, Sendable {
    /// The driver sets V4L2_BUF_FLAG_ERROR (the data is damaged).
    case errorFlag
    /// bytesused covers only this fraction of the frame (a USB transfer cut short).
    case short(fraction: Double)
    /// The JPEG's entropy-coded data has a run of garbage bytes in its middle.
    case corruptJPEG
}

enum FrameEncoder {
    /// The frame bytes of an RGB image in `format`; rows padded to `bytesPerLine`.
    static func encode(_ image: Image, as format: PixelFormat, bytesPerLine: Int) -> [UInt8] {
        if format == .z16 { return depth(image, bytesPerLine: bytesPerLine) }
        guard case .uint8(let rgb) = image.rgb().samples else {
            preconditionFailure("emulated scenes are 8-bit images")
        }
        let (width, height) = (image.width, image.height)
        switch format {
        case .rgb24:
            return rows(width: width, height: height, bytesPerLine: bytesPerLine) { x, y in
                let p = (y * width + x) * 3
                return [rgb[p], rgb[p + 1], rgb[p + 2]]
            }
        case .grey:
            return rows(width: width, height: height, bytesPerLine: bytesPerLine) { x, y in
                let p = (y * width + x) * 3
                return [luma(rgb[p], rgb[p + 1], rgb[p + 2])]
            }
        case .yuyv:
            return yuyv(rgb, width: width, height: height, bytesPerLine: bytesPerLine)
        case .mjpeg:
            return jpeg(rgb, width: width, height: height)
        case .z16:
            preconditionFailure("handled above")
        }
    }

    /// A 16-bit grey image as little-endian Z16 rows.
    private static func depth(_ image: Image, bytesPerLine: Int) -> [UInt8] {
        guard case .uint16(let values) = image.samples, image.channels == 1 else {
            preconditionFailure("a Z16 scene is a 16-bit grey image")
        }
        var out = [UInt8](repeating: 0, count: bytesPerLine * image.height)
        for y in 0..<image.height {
            for x in 0..<image.width {
                let value = values[y * image.width + x]
                out[y * bytesPerLine + x * 2] = UInt8(value & 0xFF)
                out[y * bytesPerLine + x * 2 + 1] = UInt8(value >> 8)
            }
        }
        return out
    }

    private static func rows(width: Int, height: Int, bytesPerLine: Int,
                             pixel: (Int, Int) -> [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: bytesPerLine * height)
        for y in 0..<height {
            var offset = y * bytesPerLine
            for x in 0..<width {
                for byte in pixel(x, y) {
                    out[offset] = byte
                    offset += 1
                }
            }
        }
        return out
    }

    /// Full-range RGB to limited-range BT.601 Y (16...235), rounded.
    static func luma(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
        let weighted: Int = 66 * Int(r) + 129 * Int(g) + 25 * Int(b) + 128
        return UInt8((weighted >> 8) + 16)
    }

    /// YUYV: each pair of pixels shares U and V computed from their mean colour.
    private static func yuyv(_ rgb: [UInt8], width: Int, height: Int, bytesPerLine: Int)
        -> [UInt8] {
        var out = [UInt8](repeating: 0, count: bytesPerLine * height)
        for y in 0..<height {
            for pair in 0..<(width / 2) {
                let p = (y * width + pair * 2) * 3
                let r = (Int(rgb[p]) + Int(rgb[p + 3]) + 1) / 2
                let g = (Int(rgb[p + 1]) + Int(rgb[p + 4]) + 1) / 2
                let b = (Int(rgb[p + 2]) + Int(rgb[p + 5]) + 1) / 2
                let uSum: Int = -38 * r - 74 * g + 112 * b + 128
                let vSum: Int = 112 * r - 94 * g - 18 * b + 128
                let u = (uSum >> 8) + 128
                let v = (vSum >> 8) + 128
                let o = y * bytesPerLine + pair * 4
                out[o] = luma(rgb[p], rgb[p + 1], rgb[p + 2])
                out[o + 1] = UInt8(clamping: u)
                out[o + 2] = luma(rgb[p + 3], rgb[p + 4], rgb[p + 5])
                out[o + 3] = UInt8(clamping: v)
            }
        }
        return out
    }

    /// A baseline 4:2:0 JPEG at quality 95.
    private static func jpeg(_ rgb: [UInt8], width: Int, height: Int) -> [UInt8] {
        guard let handle = tjInitCompress() else { preconditionFailure("TurboJPEG did not start") }
        defer { tjDestroy(handle) }
        var output: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let status = rgb.withUnsafeBufferPointer { pixels in
            tjCompress2(handle, pixels.baseAddress, Int32(width), 0, Int32(height),
                        Int32(TJPF_RGB.rawValue), &output, &size, Int32(TJSAMP_420.rawValue), 95,
                        0)
        }
        guard status == 0, let output else {
            preconditionFailure("TurboJPEG could not encode a frame: "
                                + String(cString: tjGetErrorStr2(handle)))
        }
        defer { tjFree(output) }
        return Array(UnsafeBufferPointer(start: output, count: Int(size)))
    }

    /// Damages a JPEG's entropy-coded data: a run of bytes after the start of scan is replaced
    /// by a byte pattern that is not valid Huffman-coded data.
    static func corrupt(_ jpeg: [UInt8]) -> [UInt8] {
        var bytes = jpeg
        var scan = 2
        while scan + 1 < bytes.count && !(bytes[scan] == 0xFF && bytes[scan + 1] == 0xDA) {
            scan += 1
        }
        let start = scan + (bytes.count - scan) / 3
        let end = min(bytes.count - 2, start + 64)
        for index in start..<end { bytes[index] = index % 2 == 0 ? 0xFF : 0xD3 }
        return bytes
    }
}
