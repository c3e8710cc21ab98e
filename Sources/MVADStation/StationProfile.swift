// StationProfile: a station's whole configuration as snake_case JSON with units in the key
// names: where parts come from (capture or a replay folder), the model, the PLC handshake and
// the rejected-part store. Unknown keys are refused with the closest valid key.

import MVADCapture

/// Where the loop's parts come from.
public enum PartSourceKind: String, ProfileChoice, Sendable {
    /// The station's camera and lights (`capture`).
    case capture
    /// Recorded parts in a folder (`replay.parts`), taken in order and cycled.
    case replay
}

/// A whole station. Relative paths are relative to the folder holding the profile file.
public struct StationProfile: Codable, Equatable, Sendable {
    public var station: String
    public var source: PartSourceKind
    public var model: ModelProfile
    public var capture: CaptureProfile?
    public var replay: ReplayProfile?
    public var handshake: HandshakeProfile?
    public var rejects: RejectsProfile?
    /// Capture only: where each captured part's views are written before inspection (put it
    /// on tmpfs, e.g. /run/mvad-station, to spare an SD card).
    public var workFolder: String

    enum CodingKeys: String, CodingKey, CaseIterable {
        case station, source, model, capture, replay, handshake, rejects
        case workFolder = "work_folder"
    }

    public init(station: String, source: PartSourceKind, model: ModelProfile,
                capture: CaptureProfile? = nil, replay: ReplayProfile? = nil,
                handshake: HandshakeProfile? = nil, rejects: RejectsProfile? = nil,
                workFolder: String = StationProfile.defaultWorkFolder) {
        self.station = station
        self.source = source
        self.model = model
        self.capture = capture
        self.replay = replay
        self.handshake = handshake
        self.rejects = rejects
        self.workFolder = workFolder
    }

    public init(from decoder: Decoder) throws {
        try StrictDecoding.rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        station = try c.decodeIfPresent(String.self, forKey: .station) ?? "station"
        source = try c.decode(PartSourceKind.self, forKey: .source)
        model = try c.decode(ModelProfile.self, forKey: .model)
        capture = try c.decodeIfPresent(CaptureProfile.self, forKey: .capture)
        replay = try c.decodeIfPresent(ReplayProfile.self, forKey: .replay)
        handshake = try c.decodeIfPresent(HandshakeProfile.self, forKey: .handshake)
        rejects = try c.decodeIfPresent(RejectsProfile.self, forKey: .rejects)
        workFolder = try c.decodeIfPresent(String.self, forKey: .workFolder)
            ?? StationProfile.defaultWorkFolder
    }

    public static let defaultWorkFolder = "/run/mvad-station"
}

/// The model, its memory banks and how it is run.
public struct ModelProfile: Codable, Equatable, Sendable {
    /// A .mvad pack or a model folder.
    public var path: String
    /// The bank file from `mvad bank build`; nil: the banks stored in the pack
    /// (`mvad convert --bank`).
    public var bank: String?
    /// The verdict threshold; nil: the one stored with the bank (one must exist).
    public var threshold: Double?
    /// `both`, `rgb` or `normals`.
    public var modality: String = "both"
    public var threads: Int = 4

    enum CodingKeys: String, CodingKey, CaseIterable {
        case path, bank, threshold, modality, threads
    }

    public init(path: String, bank: String?, threshold: Double? = nil) {
        self.path = path
        self.bank = bank
        self.threshold = threshold
    }

    public init(from decoder: Decoder) throws {
        try StrictDecoding.rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        path = try c.decode(String.self, forKey: .path)
        bank = try c.decodeIfPresent(String.self, forKey: .bank)
        threshold = try c.decodeIfPresent(Double.self, forKey: .threshold)
        modality = try c.decodeIfPresent(String.self, forKey: .modality) ?? "both"
        threads = try c.decodeIfPresent(Int.self, forKey: .threads) ?? 4
    }
}

/// Recorded parts to replay (a folder of parts in Eyecandies naming).
public struct ReplayProfile: Codable, Equatable, Sendable {
    public var parts: String
    /// Pause between parts, as a conveyor would give.
    public var intervalMilliseconds: Int = 0

    enum CodingKeys: String, CodingKey, CaseIterable {
        case parts
        case intervalMilliseconds = "interval_ms"
    }

    public init(parts: String, intervalMilliseconds: Int = 0) {
        self.parts = parts
        self.intervalMilliseconds = intervalMilliseconds
    }

    public init(from decoder: Decoder) throws {
        try StrictDecoding.rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        parts = try c.decode(String.self, forKey: .parts)
        intervalMilliseconds = try c.decodeIfPresent(Int.self, forKey: .intervalMilliseconds) ?? 0
    }
}

/// Where the views and heatmaps of rejected parts are kept, with a size cap.
public struct RejectsProfile: Codable, Equatable, Sendable {
    public var folder: String
    /// The folder's size cap; the oldest rejected parts are deleted to stay under it.
    public var maximumBytes: Int
    public var heatmaps: Bool = true

    enum CodingKeys: String, CodingKey, CaseIterable {
        case folder, heatmaps
        case maximumBytes = "max_bytes"
    }

    public init(folder: String, maximumBytes: Int, heatmaps: Bool = true) {
        self.folder = folder
        self.maximumBytes = maximumBytes
        self.heatmaps = heatmaps
    }

    public init(from decoder: Decoder) throws {
        try StrictDecoding.rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        folder = try c.decode(String.self, forKey: .folder)
        maximumBytes = try c.decode(Int.self, forKey: .maximumBytes)
        heatmaps = try c.decodeIfPresent(Bool.self, forKey: .heatmaps) ?? true
    }
}
