// LightsProfile and NormalsProfile: the lights (GPIO lines or an external command), the settle
// time and brightness bands, and where the normal map comes from.

/// A GPIO line by name or by offset (a JSON string or number).
public enum LineSelector: Codable, Equatable, Sendable, CustomStringConvertible {
    case name(String)
    case offset(Int)

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let offset = try? container.decode(Int.self) {
            self = .offset(offset)
        } else {
            self = .name(try container.decode(String.self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .name(let name): try container.encode(name)
        case .offset(let offset): try container.encode(offset)
        }
    }

    public var description: String {
        switch self {
        case .name(let name): return "'\(name)'"
        case .offset(let offset): return "offset \(offset)"
        }
    }
}

/// Lights on GPIO output lines of one chip, in the order of views 0...4.
public struct GPIOLightsProfile: Codable, Equatable, Sendable {
    public var chip: String
    public var lines: [LineSelector]
    /// Lights on when the line is high (false: active low).
    public var activeHigh: Bool = true
    public var consumer: String = "mvad-lights"

    enum CodingKeys: String, CodingKey, CaseIterable {
        case chip
        case lines
        case activeHigh = "active_high"
        case consumer
    }

    public init(chip: String, lines: [LineSelector]) {
        self.chip = chip
        self.lines = lines
    }

    public init(from decoder: Decoder) throws {
        try StrictDecoding.rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        chip = try c.decode(String.self, forKey: .chip)
        lines = try c.decode([LineSelector].self, forKey: .lines)
        activeHigh = try c.decodeIfPresent(Bool.self, forKey: .activeHigh) ?? true
        consumer = try c.decodeIfPresent(String.self, forKey: .consumer) ?? "mvad-lights"
    }
}

/// Lights switched by running a program (a serial light controller's tool). The arguments may
/// hold `{light}` (0...4); `set` switches exactly that light on, `allOn` and `allOff` all.
public struct CommandLightsProfile: Codable, Equatable, Sendable {
    public var set: [String]
    public var allOn: [String]
    public var allOff: [String]
    public var lightCount: Int = 5
    public var timeoutMilliseconds: Int = 2000

    enum CodingKeys: String, CodingKey, CaseIterable {
        case set
        case allOn = "all_on"
        case allOff = "all_off"
        case lightCount = "light_count"
        case timeoutMilliseconds = "timeout_ms"
    }

    public init(from decoder: Decoder) throws {
        try StrictDecoding.rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        set = try c.decode([String].self, forKey: .set)
        allOn = try c.decode([String].self, forKey: .allOn)
        allOff = try c.decode([String].self, forKey: .allOff)
        lightCount = try c.decodeIfPresent(Int.self, forKey: .lightCount) ?? 5
        timeoutMilliseconds = try c.decodeIfPresent(Int.self, forKey: .timeoutMilliseconds) ?? 2000
    }
}

/// Expected mean brightness (0...255, all channels) of one view.
public struct BrightnessBand: Codable, Equatable, Sendable {
    public var min: Double
    public var max: Double

    enum CodingKeys: String, CodingKey, CaseIterable { case min, max }

    public init(min: Double, max: Double) {
        self.min = min
        self.max = max
    }

    public init(from decoder: Decoder) throws {
        try StrictDecoding.rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        min = try c.decode(Double.self, forKey: .min)
        max = try c.decode(Double.self, forKey: .max)
    }
}

/// The lights and the timing of a light switch.
public struct LightsProfile: Codable, Equatable, Sendable {
    public var gpio: GPIOLightsProfile?
    public var command: CommandLightsProfile?
    /// Time from a switch until an exposure may start.
    public var settleMilliseconds: Int = 30
    /// One band per view (0...5); nil: no check.
    public var brightnessBands: [BrightnessBand]?
    /// Further attempts at a view whose frame was unusable or out of its band.
    public var maximumRetries: Int = 2

    enum CodingKeys: String, CodingKey, CaseIterable {
        case gpio
        case command
        case settleMilliseconds = "settle_ms"
        case brightnessBands = "brightness_bands"
        case maximumRetries = "max_retries"
    }

    public init(gpio: GPIOLightsProfile) {
        self.gpio = gpio
    }

    public init(from decoder: Decoder) throws {
        try StrictDecoding.rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        gpio = try c.decodeIfPresent(GPIOLightsProfile.self, forKey: .gpio)
        command = try c.decodeIfPresent(CommandLightsProfile.self, forKey: .command)
        settleMilliseconds = try c.decodeIfPresent(Int.self, forKey: .settleMilliseconds) ?? 30
        brightnessBands = try c.decodeIfPresent([BrightnessBand].self, forKey: .brightnessBands)
        maximumRetries = try c.decodeIfPresent(Int.self, forKey: .maximumRetries) ?? 2
    }
}

/// Where the normal map comes from.
public enum NormalsSource: String, ProfileChoice, Sendable {
    case photometricStereo = "photometric_stereo"
    case depthCamera = "depth_camera"
    case normalCamera = "normal_camera"
    case none
}

/// A second V4L2 device giving depth (Z16) and its intrinsics for normals from depth; for the
/// normal_camera source only `camera` is used (an RGB image of encoded normals).
public struct DepthCameraProfile: Codable, Equatable, Sendable {
    public var camera: CameraProfile
    public var fxPixels: Double?
    public var fyPixels: Double?
    public var cxPixels: Double?
    public var cyPixels: Double?
    /// Millimetres per depth unit.
    public var depthUnitMillimetres: Double = 1

    /// The intrinsics, if all four are given and the focal lengths are positive.
    public var intrinsics: Intrinsics? {
        guard let fx = fxPixels, let fy = fyPixels, let cx = cxPixels, let cy = cyPixels,
              fx > 0, fy > 0 else { return nil }
        return Intrinsics(fx: fx, fy: fy, cx: cx, cy: cy)
    }

    public init(camera: CameraProfile) {
        self.camera = camera
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case camera
        case fxPixels = "fx_px"
        case fyPixels = "fy_px"
        case cxPixels = "cx_px"
        case cyPixels = "cy_px"
        case depthUnitMillimetres = "depth_unit_mm"
    }

    public init(from decoder: Decoder) throws {
        try StrictDecoding.rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        camera = try c.decode(CameraProfile.self, forKey: .camera)
        fxPixels = try c.decodeIfPresent(Double.self, forKey: .fxPixels)
        fyPixels = try c.decodeIfPresent(Double.self, forKey: .fyPixels)
        cxPixels = try c.decodeIfPresent(Double.self, forKey: .cxPixels)
        cyPixels = try c.decodeIfPresent(Double.self, forKey: .cyPixels)
        depthUnitMillimetres = try c.decodeIfPresent(Double.self, forKey: .depthUnitMillimetres) ?? 1
    }
}

/// The normal map's source and its parameters.
public struct NormalsProfile: Codable, Equatable, Sendable {
    public var source: NormalsSource = .none
    /// Unit light directions (camera frame) of the five directional lights, for
    /// photometric stereo.
    public var lightDirections: [[Double]]?
    /// Samples at or below this level (0...255, after the ambient is removed) count as shadow.
    public var shadowLevel: Double = 4
    /// How photometric stereo removes the ambient light.
    public var ambient: AmbientEstimate = .allLightsView
    /// Ambient / light intensity, for the proportional ambient estimate.
    public var ambientRatio: Double = 0
    public var depthCamera: DepthCameraProfile?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case source
        case lightDirections = "light_directions"
        case shadowLevel = "shadow_level"
        case ambient
        case ambientRatio = "ambient_ratio"
        case depthCamera = "depth_camera"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        try StrictDecoding.rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        source = try c.decodeIfPresent(NormalsSource.self, forKey: .source) ?? .none
        lightDirections = try c.decodeIfPresent([[Double]].self, forKey: .lightDirections)
        shadowLevel = try c.decodeIfPresent(Double.self, forKey: .shadowLevel) ?? 4
        ambient = try c.decodeIfPresent(AmbientEstimate.self, forKey: .ambient) ?? .allLightsView
        ambientRatio = try c.decodeIfPresent(Double.self, forKey: .ambientRatio) ?? 0
        depthCamera = try c.decodeIfPresent(DepthCameraProfile.self, forKey: .depthCamera)
    }
}
