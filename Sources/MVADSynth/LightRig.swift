// LightRig: the five directional lights in the normal map's camera frame, and lights.json, the
// file that states the image formation exactly so photometric stereo can invert it.

import Foundation

/// Camera frame (the normal map's): x to the right of the image, y up (towards the top row), z
/// out of the image towards the camera. The camera is orthographic and looks along -z; the
/// view direction (surface to camera) is +z everywhere.
public struct LightRig: Equatable, Sendable {
    public static let lightCount = 5
    /// Unit vectors from the surface towards each light.
    public let directions: [[Double]]
    /// Radiance of each light before the per-part gain.
    public let intensities: [Double]
    public let azimuthsDegrees: [Double]
    public let elevationDegrees: Double

    /// Light i at azimuth `lightAzimuthDegrees` + 72 i (counter-clockwise from +x towards +y)
    /// and the common elevation above the belt plane: (cos e cos a, cos e sin a, sin e).
    public init(settings: SynthSettings) {
        elevationDegrees = settings.lightElevationDegrees
        azimuthsDegrees = (0..<LightRig.lightCount).map {
            settings.lightAzimuthDegrees + 72 * Double($0)
        }
        let elevation = elevationDegrees * Double.pi / 180
        directions = azimuthsDegrees.map { degrees in
            let azimuth = degrees * Double.pi / 180
            return [cos(elevation) * cos(azimuth), cos(elevation) * sin(azimuth), sin(elevation)]
        }
        intensities = Array(repeating: settings.lightIntensity, count: LightRig.lightCount)
    }
}

/// lights.json: the lights and every constant of the image formation (docs/SYNTH.md).
public struct LightsFile: Codable, Equatable, Sendable {
    public struct Light: Codable, Equatable, Sendable {
        public var view: String
        public var direction: [Double]
        public var intensity: Double
        public var azimuthDegrees: Double
        public var elevationDegrees: Double

        enum CodingKeys: String, CodingKey {
            case view, direction, intensity
            case azimuthDegrees = "azimuth_degrees"
            case elevationDegrees = "elevation_degrees"
        }
    }

    public struct Depth: Codable, Equatable, Sendable {
        public var bitDepth: Int
        public var cameraHeight: Double
        public var scale: Double
        public var definition: String

        enum CodingKeys: String, CodingKey {
            case definition, scale
            case bitDepth = "bit_depth"
            case cameraHeight = "camera_height"
        }
    }

    public var format = "mvad-synth-lights"
    public var version = 1
    public var imageSize: Int
    public var frame = "camera frame of the normal map: x right, y up (towards the top image "
        + "row), z towards the camera; orthographic camera looking along -z"
    public var normalEncoding = "R, G, B = round((n_x + 1) / 2 * 255), same for n_y, n_z"
    public var encoding = "linear: pixel = clamp(round(255 * I), 0, 255), no gamma"
    public var viewDirection: [Double] = [0, 0, 1]
    public var lights: [Light]
    public var allOn = AllOn()
    public var ambient: Double
    public var specular: Double
    public var shininess: Double
    public var sensorNoise: Double
    public var lightGainJitter: Double
    public var formula = "I_i = ambient * albedo + g_i * intensity_i * (albedo * max(0, n.l_i) "
        + "+ specular * [n.l_i > 0] * max(0, n.h_i)^shininess), h_i = normalize(l_i + v), "
        + "g_i = the part's light_gains[i] (manifest.json), then + sensor noise per channel"
    public var depth: Depth

    public struct AllOn: Codable, Equatable, Sendable {
        public var view = "image_5"
        public var definition = "I_5 = mean of I_0..I_4 before noise (all five lights on, each "
            + "at a fifth of its power), then its own sensor noise"
    }

    enum CodingKeys: String, CodingKey {
        case format, version, frame, encoding, lights, ambient, specular, shininess, formula
        case depth
        case imageSize = "image_size"
        case normalEncoding = "normal_encoding"
        case viewDirection = "view_direction"
        case allOn = "all_on"
        case sensorNoise = "sensor_noise"
        case lightGainJitter = "light_gain_jitter"
    }

    public init(settings: SynthSettings) {
        let rig = LightRig(settings: settings)
        imageSize = settings.size
        lights = (0..<LightRig.lightCount).map { i in
            Light(view: "image_\(i)", direction: rig.directions[i], intensity: rig.intensities[i],
                  azimuthDegrees: rig.azimuthsDegrees[i], elevationDegrees: rig.elevationDegrees)
        }
        ambient = settings.ambient
        specular = settings.specular
        shininess = settings.shininess
        sensorNoise = settings.sensorNoise
        lightGainJitter = settings.lightGainJitter
        let camera = PartRenderer.cameraHeight(size: settings.size)
        depth = Depth(bitDepth: 16, cameraHeight: Double(camera),
                      scale: Double(PartRenderer.depthScale(size: settings.size)),
                      definition: "16-bit grey; value = clamp(round(scale * (camera_height - "
                          + "height)), 0, 65535) with heights in pixels above the belt; the "
                          + "belt (height 0) is 65535")
    }
}
