// PixelLevels: the grey level of each pixel (mean of its colour channels, alpha ignored) on the
// 0...255 scale for 8- and 16-bit images, and the mean level of an image.

import MVADInspect

public enum PixelLevels {
    /// Per-pixel mean of the colour channels, scaled to 0...255.
    public static func grey(_ image: Image) -> [Float] {
        switch image.samples {
        case .uint8(let values): return grey(values, image: image, scale: 1)
        case .uint16(let values): return grey(values, image: image, scale: 255 / 65535)
        }
    }

    private static func grey<T: BinaryInteger>(_ values: [T], image: Image, scale: Float) -> [Float] {
        let colours = image.colorChannels
        let channels = image.channels
        var out = [Float](repeating: 0, count: image.width * image.height)
        for p in out.indices {
            var sum = 0
            for c in 0..<colours { sum += Int(values[p * channels + c]) }
            out[p] = Float(sum) / Float(colours) * scale
        }
        return out
    }

    /// Mean of the per-pixel grey levels.
    public static func mean(_ image: Image) -> Double {
        let levels = grey(image)
        return levels.reduce(0.0) { $0 + Double($1) } / Double(levels.count)
    }
}
