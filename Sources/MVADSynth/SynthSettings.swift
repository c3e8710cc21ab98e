// SynthSettings: the knobs of the synthetic part generator (image size, lights, shading,
// production variation) with their ranges, checked before anything is rendered.

/// Settings shared by every part of a generated category. Written into lights.json (the image
/// formation) and manifest.json (everything), so a dataset says how it was made.
public struct SynthSettings: Codable, Equatable, Sendable {
    /// Width and height of every view in pixels (32...4096).
    public var size: Int = 256
    /// Elevation of the five directional lights above the belt plane, in degrees (5...85).
    public var lightElevationDegrees: Double = 45
    /// Azimuth of light 0 in degrees, counter-clockwise from the image's +x axis (towards +y,
    /// i.e. image up); light i sits at this + 72 i.
    public var lightAzimuthDegrees: Double = 90
    /// Radiance of each light (the same for all five) before the per-part gain.
    public var lightIntensity: Double = 0.85
    /// Ambient term, as a fraction of the albedo, present in every view.
    public var ambient: Double = 0.08
    /// Blinn-Phong specular weight (0 = Lambertian only).
    public var specular: Double = 0.25
    /// Blinn-Phong exponent.
    public var shininess: Double = 40
    /// Standard deviation of the additive sensor noise, in units of full scale (1 = 255 DN).
    public var sensorNoise: Double = 1.0 / 255
    /// Standard deviation of each view's light gain around 1 (per part, per light).
    public var lightGainJitter: Double = 0.03
    /// Scale of the production variation of good parts (pose, size, shape, colour, texture):
    /// 1 = the default spread, 0 = every part has the nominal pose, shape and colours.
    public var variation: Double = 1

    public init() {}

    /// Lambertian shading only (no specular, no sensor noise, no light gain noise): the
    /// setting in which photometric stereo recovers the normals exactly up to quantisation.
    public static func lambertian(size: Int = 256) -> SynthSettings {
        var settings = SynthSettings()
        settings.size = size
        settings.specular = 0
        settings.sensorNoise = 0
        settings.lightGainJitter = 0
        return settings
    }

    enum CodingKeys: String, CodingKey {
        case size, ambient, specular, shininess, variation
        case lightElevationDegrees = "light_elevation_degrees"
        case lightAzimuthDegrees = "light_azimuth_degrees"
        case lightIntensity = "light_intensity"
        case sensorNoise = "sensor_noise"
        case lightGainJitter = "light_gain_jitter"
    }

    /// Throws `SynthError.invalidSetting` for the first value outside its range.
    public func validate() throws {
        try Self.check("size", Double(size), 32...4096, shown: "\(size)",
                       expected: "a whole number of pixels in 32...4096")
        try Self.check("light_elevation_degrees", lightElevationDegrees, 5...85)
        try Self.check("light_azimuth_degrees", lightAzimuthDegrees, -360...360)
        try Self.check("light_intensity", lightIntensity, 0...4)
        try Self.check("ambient", ambient, 0...1)
        try Self.check("specular", specular, 0...4)
        try Self.check("shininess", shininess, 1...1000)
        try Self.check("sensor_noise", sensorNoise, 0...0.5)
        try Self.check("light_gain_jitter", lightGainJitter, 0...0.3)
        try Self.check("variation", variation, 0...3)
    }

    private static func check(_ name: String, _ value: Double, _ range: ClosedRange<Double>,
                              shown: String? = nil, expected: String? = nil) throws {
        guard value.isFinite, range.contains(value) else {
            throw SynthError.invalidSetting(
                name: name, value: shown ?? "\(value)",
                expected: expected ?? "a number in \(range.lowerBound)...\(range.upperBound)")
        }
    }
}
