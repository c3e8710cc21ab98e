// PartRecipe: every number that fixes one synthetic part (pose and shape of the candy, its
// colours and texture, the belt, the per-view light gains, its defects), as drawn for a seed.

/// The height-field shape and pose of the candy, in pixels (x right, y down, origin at the
/// top-left corner of the image).
public struct ShapeParameters: Codable, Equatable, Sendable {
    public var centerX: Double
    public var centerY: Double
    /// Rotation of the object's u axis from the image x axis, radians (towards y down).
    public var rotation: Double
    /// Semi-axes of the footprint along u and v, pixels.
    public var semiAxisA: Double
    public var semiAxisB: Double
    /// Footprint: (|u / a|^p + |v / b|^p)^(1/p) = s; s < 1 is on the object (2 = ellipse,
    /// larger = more rectangular).
    public var footprintExponent: Double
    /// Profile: height = H (1 - s^m)^(1/m) (2 = ellipsoid dome, larger = flatter top).
    public var profileExponent: Double
    /// H: the height at the centre, pixels.
    public var height: Double

    enum CodingKeys: String, CodingKey {
        case rotation, height
        case centerX = "center_x"
        case centerY = "center_y"
        case semiAxisA = "semi_axis_a"
        case semiAxisB = "semi_axis_b"
        case footprintExponent = "footprint_exponent"
        case profileExponent = "profile_exponent"
    }
}

/// The candy's surface pattern on top of its base colour.
public enum SurfacePattern: String, Codable, Sendable, CaseIterable {
    /// Parallel bands across the object's u axis.
    case stripes
    /// Small round dots of the pattern colour.
    case speckles
    /// Swirls of the pattern colour following a value-noise field.
    case marbled
}

/// Colours are linear albedo in [0, 1] (R, G, B); positions of speckles are in the object frame
/// (u, v in pixels from the centre), so the texture turns with the part.
public struct AppearanceParameters: Codable, Equatable, Sendable {
    public var baseColor: [Double]
    public var patternColor: [Double]
    public var pattern: SurfacePattern
    /// Weight of the pattern colour where the pattern is fully on (0...1).
    public var patternStrength: Double
    /// Stripes: period along u in pixels and phase in radians.
    public var stripePeriod: Double
    public var stripePhase: Double
    /// Speckles: [u, v, radius] in pixels.
    public var speckles: [[Double]]
    /// Seed and relative amplitude of the fine value-noise texture on the whole object.
    public var textureSeed: UInt64
    public var textureAmplitude: Double

    enum CodingKeys: String, CodingKey {
        case pattern, speckles
        case baseColor = "base_color"
        case patternColor = "pattern_color"
        case patternStrength = "pattern_strength"
        case stripePeriod = "stripe_period"
        case stripePhase = "stripe_phase"
        case textureSeed = "texture_seed"
        case textureAmplitude = "texture_amplitude"
    }
}

/// The conveyor belt: a flat surface (height 0) with a weak texture and transverse grooves
/// (albedo only).
public struct BeltParameters: Codable, Equatable, Sendable {
    public var color: [Double]
    /// Distance between grooves (rows) in pixels, and the belt's travel offset.
    public var grooveSpacing: Double
    public var grooveOffset: Double
    public var textureSeed: UInt64

    enum CodingKeys: String, CodingKey {
        case color
        case grooveSpacing = "groove_spacing"
        case grooveOffset = "groove_offset"
        case textureSeed = "texture_seed"
    }
}

/// Everything that fixes one part. `render` of the same recipe and settings gives the same
/// bits; removing `defects` gives the defect-free twin of the same part.
public struct PartRecipe: Codable, Equatable, Sendable {
    public var seed: UInt64
    public var shape: ShapeParameters
    public var appearance: AppearanceParameters
    public var belt: BeltParameters
    /// Per-view gain of each of the five lights (multiplies the light's intensity).
    public var lightGains: [Double]
    /// Seed of the sensor-noise stream.
    public var noiseSeed: UInt64
    public var defects: [DefectParameters]

    enum CodingKeys: String, CodingKey {
        case seed, shape, appearance, belt, defects
        case lightGains = "light_gains"
        case noiseSeed = "noise_seed"
    }

    /// The same part without defects.
    public var withoutDefects: PartRecipe {
        var copy = self
        copy.defects = []
        return copy
    }
}
