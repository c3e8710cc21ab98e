// Image: decoded pixels as the codecs deliver them (8-bit or 16-bit integers, 1 to 4 channels),
// with the conversions the method needs: to RGB, and to an NCHW Tensor in [0, 1] or [-1, 1].

import MVADEngine

/// A decoded image. Samples are interleaved and row-major (H, W, C order), top row first, and
/// are kept exactly as stored in the file: 8-bit files as `UInt8` (0...255), 16-bit files as
/// `UInt16` (0...65535). No gamma or colour-space conversion is ever applied.
///
/// Channels: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA. Alpha is straight (not premultiplied).
public struct Image: Sendable, Equatable {
    /// The sample storage, one case per bit depth.
    public enum Samples: Sendable, Equatable {
        case uint8([UInt8])
        case uint16([UInt16])

        /// Number of samples.
        public var count: Int {
            switch self {
            case .uint8(let values): return values.count
            case .uint16(let values): return values.count
            }
        }
    }

    /// Columns.
    public let width: Int
    /// Rows.
    public let height: Int
    /// Samples per pixel: 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA).
    public let channels: Int
    /// width * height * channels samples, interleaved.
    public let samples: Samples

    /// Wraps samples; their count must be width * height * channels.
    public init(width: Int, height: Int, channels: Int, samples: Samples) {
        precondition(width > 0 && height > 0, "image size must be positive, got \(width)x\(height)")
        precondition((1...4).contains(channels), "image channels must be 1...4, got \(channels)")
        precondition(samples.count == width * height * channels,
                     "\(width)x\(height)x\(channels) image needs \(width * height * channels) "
                        + "samples, got \(samples.count)")
        self.width = width
        self.height = height
        self.channels = channels
        self.samples = samples
    }

    /// 8 or 16.
    public var bitDepth: Int {
        switch samples {
        case .uint8: return 8
        case .uint16: return 16
        }
    }

    /// 255 for 8-bit images, 65535 for 16-bit images.
    public var maximumValue: Int { bitDepth == 8 ? 255 : 65535 }

    /// True for grey + alpha and RGBA images.
    public var hasAlpha: Bool { channels == 2 || channels == 4 }

    /// 3 for RGB(A) images, 1 for grey images.
    public var colorChannels: Int { channels >= 3 ? 3 : 1 }

    /// True if any colour sample (alpha excluded) is non-zero: a defective part's mask.
    public var hasNonZeroColor: Bool {
        let colours = colorChannels
        for pixel in 0..<(width * height) {
            let base = pixel * channels
            if (0..<colours).contains(where: { rawSample(base + $0) > 0 }) { return true }
        }
        return false
    }

    /// The raw value of one sample.
    public func sample(x: Int, y: Int, channel: Int) -> Int {
        precondition(x >= 0 && x < width && y >= 0 && y < height && channel >= 0
                        && channel < channels, "sample (\(x), \(y), \(channel)) outside the image")
        return rawSample((y * width + x) * channels + channel)
    }
}

/// The value range of an image tensor.
public enum PixelRange: Sendable {
    /// value / max, as torchvision's ToTensor: [0, 1].
    case unit
    /// (value / max) * 2 - 1, as the VAE expects: [-1, 1].
    case signed
}

extension Image {
    /// The same image with three channels: grey is replicated, alpha is dropped. An RGB image is
    /// returned unchanged.
    public func rgb() -> Image {
        if channels == 3 { return self }
        switch samples {
        case .uint8(let values):
            return Image(width: width, height: height, channels: 3,
                         samples: .uint8(Image.toRGB(values, channels: channels)))
        case .uint16(let values):
            return Image(width: width, height: height, channels: 3,
                         samples: .uint16(Image.toRGB(values, channels: channels)))
        }
    }

    /// The colour channels as a [1, 3, H, W] tensor (grey replicated, alpha dropped), each value
    /// divided by 255 or 65535 in Float as torchvision's ToTensor does, then mapped by `range`.
    public func tensor(range: PixelRange = .unit) -> Tensor {
        let source = rgb()
        switch source.samples {
        case .uint8(let values):
            return Image.planarTensor(values, width: width, height: height, scale: 255,
                                      range: range)
        case .uint16(let values):
            return Image.planarTensor(values, width: width, height: height, scale: 65535,
                                      range: range)
        }
    }

    /// The sample at a flat index, as Int.
    func rawSample(_ index: Int) -> Int {
        switch samples {
        case .uint8(let values): return Int(values[index])
        case .uint16(let values): return Int(values[index])
        }
    }

    /// Interleaved RGB samples to a [1, 3, H, W] tensor of value / scale, mapped by `range`.
    private static func planarTensor<T: BinaryInteger>(
        _ values: [T], width: Int, height: Int, scale: Float, range: PixelRange
    ) -> Tensor {
        let plane = width * height
        return Tensor(shape: [1, 3, height, width]) { out in      // [1, 3, H, W]
            for pixel in 0..<plane {
                for channel in 0..<3 {
                    let unit = Float(values[pixel * 3 + channel]) / scale
                    out[channel * plane + pixel] = range == .unit ? unit : unit * 2 - 1
                }
            }
        }
    }

    /// Interleaved 1/2/4-channel samples to interleaved RGB.
    private static func toRGB<T: FixedWidthInteger>(_ values: [T], channels: Int) -> [T] {
        let pixels = values.count / channels
        var out = [T](repeating: 0, count: pixels * 3)
        for pixel in 0..<pixels {
            let base = pixel * channels
            if channels <= 2 {
                let grey = values[base]
                out[pixel * 3] = grey
                out[pixel * 3 + 1] = grey
                out[pixel * 3 + 2] = grey
            } else {
                out[pixel * 3] = values[base]
                out[pixel * 3 + 1] = values[base + 1]
                out[pixel * 3 + 2] = values[base + 2]
            }
        }
        return out
    }
}
