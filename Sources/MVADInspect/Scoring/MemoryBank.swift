// MemoryBank: the training feature vectors [M, C] of one modality, with the settings they were
// built with (checked on use) and where they came from.

import MVADEngine

/// Feature vectors of one modality, one row per feature-grid position of every training part.
///
/// Dimension letters: M bank vectors, C channels, G feature-grid side, P = G * G positions.
public struct MemoryBank: Sendable, Equatable {
    /// Which branch of the method the vectors come from; ordered RGB first.
    public enum Modality: String, Sendable, CaseIterable, Comparable {
        case rgb
        case normals

        public static func < (lhs: Modality, rhs: Modality) -> Bool {
            lhs == .rgb && rhs == .normals
        }
    }

    public let modality: Modality
    /// Channels per vector (C).
    public let channels: Int
    /// Settings the features were extracted with (image size, timesteps, feature blocks, grid
    /// size, ...); a bank is only used with exactly the same settings.
    public let settings: [String: String]
    /// Free-form record of where the vectors came from (data set, category, model pack, ...).
    public var provenance: [String: String]

    /// The vectors, row-major [M, C].
    private var storage: [Float]

    /// An empty bank of `channels`-wide vectors.
    public init(
        modality: Modality, channels: Int, settings: [String: String],
        provenance: [String: String] = [:]
    ) throws {
        guard channels > 0 else {
            throw ScoringError.invalidParameter(
                name: "channels of the \(modality.rawValue) bank", found: "\(channels)",
                expected: "> 0")
        }
        self.modality = modality
        self.channels = channels
        self.settings = settings
        self.provenance = provenance
        self.storage = []
    }

    /// A bank holding the rows of `vectors` [M, C].
    public init(
        modality: Modality, vectors: Tensor, settings: [String: String],
        provenance: [String: String] = [:]
    ) throws {
        guard vectors.rank == 2, vectors.shape[1] > 0 else {
            throw ScoringError.invalidShape(
                what: "the \(modality.rawValue) bank vectors", found: vectors.shape,
                expected: "[M, C] with C > 0")
        }
        try self.init(
            modality: modality, channels: vectors.shape[1], settings: settings,
            provenance: provenance)
        storage = vectors.scalars
    }

    /// Number of vectors (M).
    public var count: Int { storage.count / channels }

    /// The vectors as a tensor [M, C] (shares storage with the bank until either is written).
    public var vectors: Tensor { Tensor(shape: [count, channels], scalars: storage) }

    /// Appends the G * G position vectors of one part's feature map `features` [C, G, G], in
    /// row-major position order: position p = y * G + x holds features[:, y, x].
    public mutating func append(features: Tensor) throws {
        let what = "features appended to the \(modality.rawValue) bank"
        let positions = try Self.positionVectors(of: features, channels: channels, what: what)
        storage.append(contentsOf: positions.scalars)
    }

    /// Appends the rows of `vectors` [P, C].
    public mutating func append(vectors: Tensor) throws {
        guard vectors.rank == 2, vectors.shape[1] == channels else {
            throw ScoringError.invalidShape(
                what: "vectors appended to the \(modality.rawValue) bank", found: vectors.shape,
                expected: "[P, \(channels)]")
        }
        storage.append(contentsOf: vectors.scalars)
    }

    /// A bank of the rows at `indices`, in that order, with the same settings and provenance.
    public func subset(_ indices: [Int]) -> MemoryBank {
        var copy = self
        var rows = [Float]()
        rows.reserveCapacity(indices.count * channels)
        for index in indices {
            precondition(index >= 0 && index < count, "row \(index) outside 0..<\(count)")
            rows.append(contentsOf: storage[(index * channels)..<((index + 1) * channels)])
        }
        copy.storage = rows
        return copy
    }

    /// The settings that differ between the bank and `expected`, by name; a setting present on
    /// one side only counts as a difference.
    public func settingDifferences(from expected: [String: String]) -> [SettingDifference] {
        let names = Set(settings.keys).union(expected.keys).sorted()
        return names.compactMap { name in
            let (bankValue, expectedValue) = (settings[name], expected[name])
            guard bankValue != expectedValue else { return nil }
            return SettingDifference(
                name: name, bankValue: bankValue, expectedValue: expectedValue)
        }
    }

    /// Throws `settingsMismatch`, naming every differing setting, unless the bank was built
    /// with exactly the `expected` settings.
    public func requireSettings(_ expected: [String: String]) throws {
        let differences = settingDifferences(from: expected)
        guard differences.isEmpty else {
            throw ScoringError.settingsMismatch(
                modality: modality.rawValue, differences: differences)
        }
    }

    /// Rearranges a feature map [C, H, W] into position vectors [H * W, C], position p = y * W + x.
    public static func positionVectors(
        of features: Tensor, channels: Int, what: String = "the feature map"
    ) throws -> Tensor {
        guard features.rank == 3, features.shape[0] == channels else {
            throw ScoringError.invalidShape(
                what: what, found: features.shape, expected: "[\(channels), G, G]")
        }
        let positions = features.shape[1] * features.shape[2]
        let source = features.scalars
        return Tensor(shape: [positions, channels]) { out in
            for c in 0..<channels {
                let plane = c * positions
                for p in 0..<positions {
                    out[p * channels + c] = source[plane + p]
                }
            }
        }
    }
}
