// CaptureProfile: a station's capture configuration as snake_case JSON with units in the key
// names: the camera, the lights, the normal-map source and reopening; unknown keys are refused.
// The station loop extends the profile around the `capture` part kept here.

import Foundation

/// The capture part of a station profile.
public struct CaptureProfile: Codable, Equatable, Sendable {
    public var camera: CameraProfile
    public var lights: LightsProfile
    public var normals: NormalsProfile
    public var reopen: ReopenProfile

    enum CodingKeys: String, CodingKey, CaseIterable {
        case camera, lights, normals, reopen
    }

    public init(camera: CameraProfile, lights: LightsProfile, normals: NormalsProfile,
                reopen: ReopenProfile = ReopenProfile()) {
        self.camera = camera
        self.lights = lights
        self.normals = normals
        self.reopen = reopen
    }

    public init(from decoder: Decoder) throws {
        try StrictDecoding.rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        camera = try c.decode(CameraProfile.self, forKey: .camera)
        lights = try c.decode(LightsProfile.self, forKey: .lights)
        normals = try c.decodeIfPresent(NormalsProfile.self, forKey: .normals) ?? NormalsProfile()
        reopen = try c.decodeIfPresent(ReopenProfile.self, forKey: .reopen) ?? ReopenProfile()
        try validate()
    }

    /// Reads and checks a profile file.
    public static func load(path: String) throws -> CaptureProfile {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ProfileError(path: path, message: "cannot read the file: "
                               + error.localizedDescription)
        }
        do {
            return try JSONDecoder().decode(CaptureProfile.self, from: data)
        } catch let error as UnknownKeyError {
            var message = error.description
            if error.path.isEmpty, ["capture", "model", "source", "station"].contains(error.key) {
                message += "; this looks like a station profile (mvad run): give a capture "
                    + "profile, which is a station profile's 'capture' section on its own"
            }
            throw ProfileError(path: path, message: message)
        } catch let error as ProfileError {
            throw ProfileError(path: path, message: error.message)
        } catch let DecodingError.keyNotFound(key, context) {
            throw ProfileError(path: path, message: "missing key '\(key.stringValue)' in '"
                               + context.codingPath.map(\.stringValue).joined(separator: ".") + "'")
        } catch let error as DecodingError {
            var place = ""
            switch error {
            case let .typeMismatch(_, context), let .valueNotFound(_, context),
                 let .dataCorrupted(context):
                let keys = context.codingPath.map(\.stringValue).joined(separator: ".")
                place = keys.isEmpty ? "" : "'\(keys)': "
            default: break
            }
            throw ProfileError(path: path,
                               message: place + ProfileDecodingText.problem(error, data: data))
        }
    }

    /// Cross-field checks: counts of lights, bands and directions; positive times.
    public func validate() throws {
        func fail(_ message: String) -> ProfileError { ProfileError(path: "", message: message) }
        let lightCount = lights.gpio?.lines.count ?? lights.command?.lightCount ?? 0
        guard (lights.gpio == nil) != (lights.command == nil) else {
            throw fail("lights: give exactly one of 'gpio' and 'command'")
        }
        guard lightCount == CaptureProfile.directionalLights else {
            throw fail("lights: \(lightCount) directional lights, expected "
                       + "\(CaptureProfile.directionalLights) (views 0-4; view 5 is all on)")
        }
        if let bands = lights.brightnessBands, bands.count != CaptureProfile.views {
            throw fail("lights.brightness_bands: \(bands.count) bands, expected one per view "
                       + "(\(CaptureProfile.views))")
        }
        if normals.source == .photometricStereo {
            guard let directions = normals.lightDirections,
                  directions.count == CaptureProfile.directionalLights,
                  directions.allSatisfy({ $0.count == 3 }) else {
                throw fail("normals.light_directions: photometric stereo needs "
                           + "\(CaptureProfile.directionalLights) [x, y, z] directions")
            }
            if let problem = CaptureProfile.directionProblem(directions) {
                throw fail("normals.light_directions: " + problem)
            }
        }
        if normals.ambientRatio < 0 || normals.shadowLevel < 0 {
            throw fail("normals: ambient_ratio and shadow_level must be >= 0")
        }
        if normals.source == .depthCamera || normals.source == .normalCamera {
            guard let second = normals.depthCamera else {
                throw fail("normals.depth_camera: the \(normals.source.rawValue) source needs "
                           + "its camera")
            }
            if normals.source == .depthCamera && second.camera.pixelFormat != .z16 {
                throw fail("normals.depth_camera.camera.pixel_format: depth must be Z16, got "
                           + second.camera.pixelFormat.rawValue)
            }
            if normals.source == .depthCamera && second.intrinsics == nil {
                throw fail("normals.depth_camera: fx_px, fy_px (> 0), cx_px and cy_px are "
                           + "needed for normals from depth")
            }
        }
        guard camera.frameIntervalMicroseconds > 0, camera.width > 0, camera.height > 0,
              camera.bufferCount >= 2 else {
            throw fail("camera: width, height and frame_interval_us must be > 0 and "
                       + "buffer_count >= 2")
        }
    }

    /// Why photometric stereo cannot use these directions, or nil. Each must be a finite,
    /// non-zero vector towards a light above the part (z > 0, camera frame), and every three
    /// of them must span space, since a pixel with some lights in shadow is solved from any
    /// three: the determinant of three unit directions must be at least `minimumSpan`.
    static func directionProblem(_ directions: [[Double]]) -> String? {
        var units: [SIMD3<Double>] = []
        for (index, d) in directions.enumerated() {
            let v = SIMD3(d[0], d[1], d[2])
            let length = (v * v).sum().squareRoot()
            guard length.isFinite, length > 1e-6 else {
                return "direction \(index) \(d) is zero or not finite"
            }
            guard v.z > 0 else {
                return "direction \(index) \(d) points away from the camera (z must be > 0: "
                    + "towards a light above the part)"
            }
            units.append(v / length)
        }
        for i in units.indices {
            for j in units.indices where j > i {
                for k in units.indices where k > j {
                    let (a, b, c) = (units[i], units[j], units[k])
                    let det = a.x * (b.y * c.z - b.z * c.y) - a.y * (b.x * c.z - b.z * c.x)
                        + a.z * (b.x * c.y - b.y * c.x)
                    if abs(det) < minimumSpan {
                        return "directions \(i), \(j) and \(k) lie (nearly) in one plane "
                            + "(determinant \(String(format: "%.2g", det)), at least "
                            + "\(minimumSpan) needed); the normal cannot be solved from them"
                    }
                }
            }
        }
        return nil
    }

    /// The smallest |determinant| of three unit light directions accepted.
    static let minimumSpan = 1e-3

    /// Views 0...4 light one directional light each; view 5 lights them all.
    public static let directionalLights = 5
    public static let views = 6
}

/// A profile that cannot be used.
public struct ProfileError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let message: String
    public var description: String {
        path.isEmpty ? "capture profile: \(message)" : "capture profile '\(path)': \(message)"
    }
}

/// The camera and how frames are taken.
public struct CameraProfile: Codable, Equatable, Sendable {
    public var device: String
    public var pixelFormat: PixelFormat
    public var width: Int
    public var height: Int
    public var frameIntervalMicroseconds: Int
    public var bufferCount: Int = 4
    /// Manual exposure (a multiple of 100 us); nil leaves the camera's setting.
    public var exposureMicroseconds: Int?
    public var gain: Int?
    public var whiteBalanceKelvin: Int?
    /// How long to wait for a usable frame after the settle time.
    public var timeoutMilliseconds: Int = 2000
    /// Unusable buffers (error flag, short, corrupt) tolerated while waiting for one frame.
    public var maximumBadFrames: Int = 4

    enum CodingKeys: String, CodingKey, CaseIterable {
        case device
        case pixelFormat = "pixel_format"
        case width
        case height
        case frameIntervalMicroseconds = "frame_interval_us"
        case bufferCount = "buffer_count"
        case exposureMicroseconds = "exposure_us"
        case gain
        case whiteBalanceKelvin = "white_balance_k"
        case timeoutMilliseconds = "timeout_ms"
        case maximumBadFrames = "max_bad_frames"
    }

    public init(device: String, pixelFormat: PixelFormat, width: Int, height: Int,
                frameIntervalMicroseconds: Int) {
        self.device = device
        self.pixelFormat = pixelFormat
        self.width = width
        self.height = height
        self.frameIntervalMicroseconds = frameIntervalMicroseconds
    }

    public init(from decoder: Decoder) throws {
        try StrictDecoding.rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        device = try c.decode(String.self, forKey: .device)
        pixelFormat = try c.decode(PixelFormat.self, forKey: .pixelFormat)
        width = try c.decode(Int.self, forKey: .width)
        height = try c.decode(Int.self, forKey: .height)
        frameIntervalMicroseconds = try c.decode(Int.self, forKey: .frameIntervalMicroseconds)
        bufferCount = try c.decodeIfPresent(Int.self, forKey: .bufferCount) ?? 4
        exposureMicroseconds = try c.decodeIfPresent(Int.self, forKey: .exposureMicroseconds)
        gain = try c.decodeIfPresent(Int.self, forKey: .gain)
        whiteBalanceKelvin = try c.decodeIfPresent(Int.self, forKey: .whiteBalanceKelvin)
        timeoutMilliseconds = try c.decodeIfPresent(Int.self, forKey: .timeoutMilliseconds) ?? 2000
        maximumBadFrames = try c.decodeIfPresent(Int.self, forKey: .maximumBadFrames) ?? 4
    }

    /// The manual controls to hold.
    public var manualControls: ManualControls {
        ManualControls(exposureMicroseconds: exposureMicroseconds, gain: gain,
                       whiteBalanceKelvin: whiteBalanceKelvin)
    }
}

/// Reopening a camera that vanished, with exponential backoff.
public struct ReopenProfile: Codable, Equatable, Sendable {
    public var attempts: Int = 5
    public var initialBackoffMilliseconds: Int = 200
    public var maximumBackoffMilliseconds: Int = 5000

    enum CodingKeys: String, CodingKey, CaseIterable {
        case attempts
        case initialBackoffMilliseconds = "initial_backoff_ms"
        case maximumBackoffMilliseconds = "max_backoff_ms"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        try StrictDecoding.rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        attempts = try c.decodeIfPresent(Int.self, forKey: .attempts) ?? 5
        initialBackoffMilliseconds =
            try c.decodeIfPresent(Int.self, forKey: .initialBackoffMilliseconds) ?? 200
        maximumBackoffMilliseconds =
            try c.decodeIfPresent(Int.self, forKey: .maximumBackoffMilliseconds) ?? 5000
    }
}
