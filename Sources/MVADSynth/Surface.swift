// Surface: the part as the renderer sees it, a height field over the belt and an albedo per
// pixel, built from a recipe (candy shape, pattern, texture, belt), defects applied last.

import Foundation

/// Height and albedo at every pixel centre (x = column + 0.5, y = row + 0.5; rows top down).
/// Heights are in pixels above the belt (the belt is 0); albedo is linear RGB in [0, 1].
public struct Surface: Equatable, Sendable {
    public let size: Int
    /// size * size heights, row-major.
    public internal(set) var height: [Float]
    /// size * size * 3 albedo values, row-major, RGB interleaved.
    public internal(set) var albedo: [Float]
    /// The belt's albedo everywhere (also under the candy): what a missing piece reveals.
    public let beltAlbedo: [Float]
    /// True where the defect-free candy's footprint covers the pixel centre.
    public let onObject: [Bool]

    /// Builds the defect-free surface of `recipe`, then applies its defects in order.
    public init(recipe: PartRecipe, size: Int) {
        precondition(size > 0, "surface size must be positive, got \(size)")
        self.size = size
        let count = size * size
        var height = [Float](repeating: 0, count: count)
        var albedo = [Float](repeating: 0, count: count * 3)
        var belt = [Float](repeating: 0, count: count * 3)
        var onObject = [Bool](repeating: false, count: count)
        let candy = CandyModel(recipe: recipe)
        let beltModel = BeltModel(belt: recipe.belt)

        for row in 0..<size {
            let y = Float(row) + 0.5
            for column in 0..<size {
                let x = Float(column) + 0.5
                let pixel = row * size + column
                let beltColor = beltModel.albedo(x: x, y: y)
                for c in 0..<3 { belt[pixel * 3 + c] = beltColor[c] }
                if let point = candy.point(x: x, y: y) {
                    onObject[pixel] = true
                    height[pixel] = point.height
                    let color = candy.albedo(u: point.u, v: point.v)
                    for c in 0..<3 { albedo[pixel * 3 + c] = color[c] }
                } else {
                    for c in 0..<3 { albedo[pixel * 3 + c] = beltColor[c] }
                }
            }
        }
        self.height = height
        self.albedo = albedo
        self.beltAlbedo = belt
        self.onObject = onObject
        for defect in recipe.defects { apply(defect) }
    }
}

/// The candy: a superellipse footprint with a rounded profile, and its surface colours.
struct CandyModel {
    let centerX, centerY, cosine, sine: Float
    let a, b, p, m, top: Float
    let base, patternColor: SIMD3<Float>
    let appearance: AppearanceParameters
    let texture: ValueNoise
    let marble: ValueNoise

    init(recipe: PartRecipe) {
        let shape = recipe.shape
        centerX = Float(shape.centerX)
        centerY = Float(shape.centerY)
        cosine = Float(cos(shape.rotation))
        sine = Float(sin(shape.rotation))
        a = Float(shape.semiAxisA)
        b = Float(shape.semiAxisB)
        p = Float(shape.footprintExponent)
        m = Float(shape.profileExponent)
        top = Float(shape.height)
        appearance = recipe.appearance
        base = CandyModel.vector(appearance.baseColor)
        patternColor = CandyModel.vector(appearance.patternColor)
        texture = ValueNoise(seed: appearance.textureSeed, cell: max(2, a / 12), octaves: 2)
        marble = ValueNoise(seed: SynthRandom.derive(appearance.textureSeed, 7),
                            cell: max(4, a * 0.45), octaves: 3)
    }

    /// Object-frame coordinates and height of the point under (x, y), or nil off the candy.
    func point(x: Float, y: Float) -> (u: Float, v: Float, height: Float)? {
        let dx = x - centerX, dy = y - centerY
        let u = cosine * dx + sine * dy
        let v = -sine * dx + cosine * dy
        let s = powf(powf(abs(u) / a, p) + powf(abs(v) / b, p), 1 / p)
        guard s < 1 else { return nil }
        return (u, v, top * powf(1 - powf(s, m), 1 / m))
    }

    /// Base colour blended with the pattern colour, times the fine texture; clamped to [0, 1].
    func albedo(u: Float, v: Float) -> SIMD3<Float> {
        let strength = Float(appearance.patternStrength)
        var weight: Float = 0
        switch appearance.pattern {
        case .stripes:
            let wave = 0.5 + 0.5 * sinf(2 * Float.pi * u / Float(appearance.stripePeriod)
                                        + Float(appearance.stripePhase))
            weight = strength * smoothstep(0.35, 0.65, wave)
        case .speckles:
            for speckle in appearance.speckles where speckle.count == 3 {
                let du = u - Float(speckle[0]), dv = v - Float(speckle[1])
                let edge = Float(speckle[2]) - (du * du + dv * dv).squareRoot()
                weight = max(weight, strength * min(1, max(0, edge + 0.5)))
            }
        case .marbled:
            weight = strength * min(1, max(0, 1 - abs(marble.value(u, v)) * 5))
        }
        let grain = 1 + Float(appearance.textureAmplitude) * texture.value(u, v)
        let color = (base + (patternColor - base) * weight) * grain
        return color.clamped(lowerBound: .zero, upperBound: .one)
    }

    /// Three colour components as a vector (missing components are 0).
    static func vector(_ values: [Double]) -> SIMD3<Float> {
        SIMD3((0..<3).map { $0 < values.count ? Float(values[$0]) : 0 })
    }
}

/// The conveyor belt: base colour, weak value noise, darker transverse grooves.
struct BeltModel {
    let color: SIMD3<Float>
    let spacing, offset: Float
    let texture: ValueNoise

    init(belt: BeltParameters) {
        color = CandyModel.vector(belt.color)
        spacing = Float(belt.grooveSpacing)
        offset = Float(belt.grooveOffset)
        texture = ValueNoise(seed: belt.textureSeed, cell: 5, octaves: 2)
    }

    func albedo(x: Float, y: Float) -> SIMD3<Float> {
        let travelled = y + offset
        let phase = travelled - (travelled / spacing).rounded(.down) * spacing
        let distance = min(phase, spacing - phase)              // to the nearest groove
        let groove: Float = 1 - 0.3 * min(1, max(0, 1.5 - distance))
        let grain = 1 + 0.08 * texture.value(x, travelled)
        return (color * (groove * grain)).clamped(lowerBound: .zero, upperBound: .one)
    }
}

/// 0 below `low`, 1 above `high`, a smooth cubic between.
func smoothstep(_ low: Float, _ high: Float, _ value: Float) -> Float {
    let t = min(1, max(0, (value - low) / (high - low)))
    return t * t * (3 - 2 * t)
}
