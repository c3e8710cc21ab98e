// NormalField: per-pixel unit surface normals with a validity mask, their encoding as an
// Eyecandies normal map ((n + 1) / 2 * 255 in RGB) and the angular error between two fields.
//
// Frame: the camera's, x to the right of the image, y up, z towards the camera; a surface
// facing the camera has n = (0, 0, 1), encoded (128, 128, 255).

import Foundation
import MVADInspect

/// Unit normals of an image's pixels; invalid pixels (shadowed, no depth) hold (0, 0, 1).
public struct NormalField: Equatable, Sendable {
    public let width: Int
    public let height: Int
    /// x, y, z per pixel, row-major (H, W, 3).
    public var vectors: [Float]
    /// True where the normal was measured.
    public var valid: [Bool]

    public init(width: Int, height: Int) {
        precondition(width > 0 && height > 0, "normal field size must be positive")
        self.width = width
        self.height = height
        vectors = [Float](repeating: 0, count: width * height * 3)
        valid = [Bool](repeating: false, count: width * height)
        for p in 0..<(width * height) { vectors[p * 3 + 2] = 1 }
    }

    /// The normal at pixel index p.
    public func normal(_ p: Int) -> SIMD3<Float> {
        SIMD3(vectors[p * 3], vectors[p * 3 + 1], vectors[p * 3 + 2])
    }

    /// Sets pixel p to the unit vector along `n` and marks it valid.
    public mutating func set(_ p: Int, _ n: SIMD3<Float>) {
        let length = (n * n).sum().squareRoot()
        precondition(length > 0, "a normal needs a direction")
        let unit = n / length
        vectors[p * 3] = unit.x
        vectors[p * 3 + 1] = unit.y
        vectors[p * 3 + 2] = unit.z
        valid[p] = true
    }

    /// The Eyecandies normal map: round((n + 1) / 2 * 255) per component, 8-bit RGB.
    public func encoded() -> Image {
        let samples = vectors.map { UInt8(max(0, min(255, (($0 + 1) / 2 * 255).rounded()))) }
        return Image(width: width, height: height, channels: 3, samples: .uint8(samples))
    }

    /// Decodes an encoded normal map (8 or 16 bit RGB); every pixel counts as valid.
    public static func decode(_ image: Image) -> NormalField {
        let rgb = image.rgb()
        var field = NormalField(width: rgb.width, height: rgb.height)
        let scale = Float(rgb.maximumValue)
        for p in 0..<(rgb.width * rgb.height) {
            let n = SIMD3<Float>((0..<3).map {
                Float(rgb.sample(x: p % rgb.width, y: p / rgb.width, channel: $0)) / scale * 2 - 1
            })
            if (n * n).sum() > 0 { field.set(p, n) }
        }
        return field
    }

    /// Mean angle in degrees between this field and `other` over the pixels where `mask` is
    /// true (default: where both are valid). Nil if there are no such pixels.
    public func meanAngularError(to other: NormalField, mask: [Bool]? = nil) -> Double? {
        precondition(width == other.width && height == other.height,
                     "fields are \(width)x\(height) and \(other.width)x\(other.height)")
        var sum = 0.0
        var count = 0
        for p in 0..<(width * height) {
            let use = mask?[p] ?? (valid[p] && other.valid[p])
            guard use else { continue }
            let cosine = Double((normal(p) * other.normal(p)).sum())
            sum += acos(max(-1, min(1, cosine))) * 180 / Double.pi
            count += 1
        }
        return count == 0 ? nil : sum / Double(count)
    }
}
