// RenderedPart+Images: quantisation of a rendered part to the files of the Eyecandies layout:
// 8-bit linear RGB views, the 8-bit normal map, the 16-bit depth map and the 0/255 mask.

import MVADInspect

extension RenderedPart {
    /// View k (0...5) as 8-bit RGB: clamp(round(255 * I), 0, 255) per sample, no gamma.
    public func viewImage(_ k: Int) -> Image {
        precondition(views.indices.contains(k), "view \(k) outside 0..<\(views.count)")
        let samples = views[k].map { RenderedPart.quantise($0 * 255, maximum: 255) }
        return Image(width: size, height: size, channels: 3, samples: .uint8(samples))
    }

    /// The normal map: round((n + 1) / 2 * 255) per component, R = x, G = y, B = z.
    public var normalImage: Image {
        let samples = normals.map { RenderedPart.quantise(($0 + 1) / 2 * 255, maximum: 255) }
        return Image(width: size, height: size, channels: 3, samples: .uint8(samples))
    }

    /// The depth map, 16-bit grey: clamp(round(scale * depth), 0, 65535), scale from
    /// lights.json (`PartRenderer.depthScale`).
    public var depthImage: Image {
        let scale = PartRenderer.depthScale(size: size)
        let samples = depth.map { UInt16(clamping: Int(min(65535, max(0, ($0 * scale).rounded())))) }
        return Image(width: size, height: size, channels: 1, samples: .uint16(samples))
    }

    /// The defect mask, 8-bit grey: 255 where `mask` is true, else 0.
    public var maskImage: Image {
        Image(width: size, height: size, channels: 1,
              samples: .uint8(mask.map { $0 ? 255 : 0 }))
    }

    /// Number of mask pixels.
    public var maskPixelCount: Int { mask.reduce(0) { $0 + ($1 ? 1 : 0) } }

    /// Round half away from zero, then clamp to 0...maximum.
    static func quantise(_ value: Float, maximum: Float) -> UInt8 {
        UInt8(min(maximum, max(0, value.rounded())))
    }
}
