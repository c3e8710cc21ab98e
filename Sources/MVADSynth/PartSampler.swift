// PartSampler: draws a part's recipe from its seed. The product (nominal shape, colours,
// pattern) is fixed by the category name; each part varies around it as on a production line.

import Foundation

/// The nominal look of one product: what every good part of a category is close to.
public struct ProductStyle: Codable, Equatable, Sendable {
    public var hue: Double
    public var saturation: Double
    public var value: Double
    public var pattern: SurfacePattern
    /// Hue offset of the pattern colour and its brightness factor.
    public var patternHueOffset: Double
    public var patternValueFactor: Double
    /// Semi-axis a as a fraction of the image size; b = a * aspect.
    public var sizeFraction: Double
    public var aspect: Double
    public var footprintExponent: Double
    public var profileExponent: Double
    /// H / min(a, b).
    public var heightRatio: Double

    /// The style of the product called `category`: a stable function of the name.
    public init(category: String) {
        var random = SynthRandom(seed: SynthRandom.hash(category))
        hue = random.unit()
        saturation = random.uniform(0.55, 0.8)
        value = random.uniform(0.6, 0.8)
        pattern = SurfacePattern.allCases[random.index(SurfacePattern.allCases.count)]
        patternHueOffset = random.uniform(-0.12, 0.12)
        patternValueFactor = random.uniform(0.55, 1.25)
        sizeFraction = random.uniform(0.26, 0.32)
        aspect = random.uniform(0.6, 0.9)
        footprintExponent = random.uniform(2, 3.2)
        profileExponent = random.uniform(2, 3.2)
        heightRatio = random.uniform(0.45, 0.7)
    }
}

/// Draws recipes for one product and settings.
public struct PartSampler: Sendable {
    public let style: ProductStyle
    public let settings: SynthSettings

    public init(style: ProductStyle, settings: SynthSettings) {
        self.style = style
        self.settings = settings
    }

    /// The recipe of the part with `seed`, with one defect of `defect` kind if given. The good
    /// part's numbers come from streams that the defect never draws from, so the recipe with
    /// `defect: nil` is the defect-free twin of the one with a defect.
    public func recipe(seed: UInt64, defect: DefectKind? = nil) -> PartRecipe {
        let shape = sampleShape(PartStream.shape.generator(partSeed: seed))
        var lights = PartStream.lights.generator(partSeed: seed)
        let gains = (0..<LightRig.lightCount).map { _ in
            max(0.5, 1 + settings.lightGainJitter * lights.gaussian())
        }
        var recipe = PartRecipe(
            seed: seed, shape: shape,
            appearance: sampleAppearance(PartStream.appearance.generator(partSeed: seed),
                                         shape: shape),
            belt: sampleBelt(PartStream.belt.generator(partSeed: seed)),
            lightGains: gains,
            noiseSeed: SynthRandom.derive(seed, PartStream.sensorNoise.rawValue),
            defects: [])
        if let defect {
            var random = PartStream.defect.generator(partSeed: seed)
            recipe.defects = [DefectSampler.sample(defect, shape: shape, size: settings.size,
                                                   random: &random)]
        }
        return recipe
    }

    /// Pose and shape: the nominal product, jittered by `settings.variation`.
    private func sampleShape(_ generator: SynthRandom) -> ShapeParameters {
        var random = generator
        let size = Double(settings.size)
        let spread = settings.variation
        let jitter = { (random: inout SynthRandom, scale: Double) -> Double in
            min(2, max(-2, random.gaussian())) * scale * spread
        }
        let a = style.sizeFraction * size * (1 + jitter(&random, 0.04))
        let b = a * style.aspect * (1 + jitter(&random, 0.03))
        return ShapeParameters(
            centerX: size / 2 + jitter(&random, 0.035 * size),
            centerY: size / 2 + jitter(&random, 0.035 * size),
            rotation: jitter(&random, 0.2),
            semiAxisA: a, semiAxisB: b,
            footprintExponent: style.footprintExponent + jitter(&random, 0.1),
            profileExponent: style.profileExponent + jitter(&random, 0.1),
            height: style.heightRatio * min(a, b) * (1 + jitter(&random, 0.05)))
    }

    /// Colours, pattern and texture, jittered around the product's.
    private func sampleAppearance(_ generator: SynthRandom,
                                  shape: ShapeParameters) -> AppearanceParameters {
        var random = generator
        let spread = settings.variation
        let hue = style.hue + 0.012 * spread * random.gaussian()
        let saturation = min(0.95, max(0.2, style.saturation + 0.03 * spread * random.gaussian()))
        let value = min(0.9, max(0.3, style.value + 0.03 * spread * random.gaussian()))
        let patternValue = min(0.92, max(0.15, value * style.patternValueFactor))
        var speckles: [[Double]] = []
        if style.pattern == .speckles {
            let count = 18 + random.index(14)
            for _ in 0..<count {
                let r = 0.85 * random.unit().squareRoot()
                let phi = random.uniform(0, 2 * Double.pi)
                speckles.append([r * shape.semiAxisA * cos(phi), r * shape.semiAxisB * sin(phi),
                                 shape.semiAxisA * random.uniform(0.03, 0.06)])
            }
        }
        return AppearanceParameters(
            baseColor: ColorSpace.rgb(hue: hue, saturation: saturation, value: value),
            patternColor: ColorSpace.rgb(hue: hue + style.patternHueOffset,
                                         saturation: saturation * 0.9, value: patternValue),
            pattern: style.pattern,
            patternStrength: min(1, max(0.3, 0.7 + 0.05 * spread * random.gaussian())),
            stripePeriod: shape.semiAxisA * random.uniform(0.35, 0.45),
            stripePhase: random.uniform(0, 2 * Double.pi),
            speckles: speckles,
            textureSeed: random.next(),
            textureAmplitude: 0.06 + 0.02 * random.unit())
    }

    /// The belt under the part: same material, different travel offset and texture.
    private func sampleBelt(_ generator: SynthRandom) -> BeltParameters {
        var random = generator
        let grey = random.uniform(0.2, 0.24)
        let spacing = Double(settings.size) / 12
        return BeltParameters(color: [grey * 0.92, grey * 1.05, grey * 0.98],
                              grooveSpacing: spacing,
                              grooveOffset: random.uniform(0, spacing),
                              textureSeed: random.next())
    }
}

/// HSV to linear RGB for the palette (the albedo is linear; no gamma anywhere).
enum ColorSpace {
    static func rgb(hue: Double, saturation: Double, value: Double) -> [Double] {
        let h = (hue - hue.rounded(.down)) * 6
        let sector = Int(h.rounded(.down)) % 6
        let f = h - h.rounded(.down)
        let p = value * (1 - saturation)
        let q = value * (1 - saturation * f)
        let t = value * (1 - saturation * (1 - f))
        switch sector {
        case 0: return [value, t, p]
        case 1: return [q, value, p]
        case 2: return [p, value, t]
        case 3: return [p, q, value]
        case 4: return [t, p, value]
        default: return [value, p, q]
        }
    }
}
