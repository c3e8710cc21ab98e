// SynthManifest: manifest.json of a generated category: how it was made (seed, settings,
// product) and, per part, its split, id, seed, label, defects and full recipe.

import MVADInspect

/// One generated part as listed in the manifest.
public struct ManifestPart: Codable, Equatable, Sendable {
    public var split: String
    /// The file prefix (NNN) in the split's data folder.
    public var id: String
    public var seed: UInt64
    /// "good" or "defective".
    public var label: String
    /// The defect kinds, in the order they were applied (empty for a good part).
    public var defectKinds: [DefectKind]
    /// Mask pixels (test_public only; nil elsewhere, where no mask is written).
    public var maskPixels: Int?
    /// Everything that fixes the part, defect parameters and per-view light gains included.
    public var recipe: PartRecipe

    enum CodingKeys: String, CodingKey {
        case split, id, seed, label, recipe
        case defectKinds = "defect_kinds"
        case maskPixels = "mask_pixels"
    }
}

/// manifest.json.
public struct SynthManifest: Codable, Equatable, Sendable {
    public var format = "mvad-synth-manifest"
    public var version = 1
    public var generator = "mvad synth"
    public var category: String
    public var masterSeed: UInt64
    public var settings: SynthSettings
    public var product: ProductStyle
    /// The kinds the test split cycles through.
    public var defectKinds: [DefectKind]
    public var counts: [String: Int]
    public var parts: [ManifestPart]

    enum CodingKeys: String, CodingKey {
        case format, version, generator, category, settings, product, counts, parts
        case masterSeed = "master_seed"
        case defectKinds = "defect_kinds"
    }
}

/// How many parts each split gets. test_public alternates good (even ids) and defective (odd
/// ids), so it holds ceil(n / 2) good and floor(n / 2) defective parts.
public struct SplitCounts: Equatable, Sendable {
    public var train: Int
    public var val: Int
    public var test: Int

    public init(train: Int, val: Int, test: Int) {
        self.train = train
        self.val = val
        self.test = test
    }

    public func count(_ split: Dataset.Split) -> Int {
        switch split {
        case .train: return train
        case .val: return val
        case .testPublic: return test
        }
    }

    /// Throws unless every count is in 0...100000 and at least one is positive.
    public func validate() throws {
        for split in Dataset.Split.allCases where !(0...100_000).contains(count(split)) {
            throw SynthError.invalidSetting(name: "\(split.rawValue) count",
                                            value: "\(count(split))",
                                            expected: "a whole number of parts in 0...100000")
        }
        guard train + val + test > 0 else { throw SynthError.noParts }
    }
}

/// What one split's generation produced, for the command's summary line.
public struct SplitSummary: Equatable, Sendable {
    public var split: Dataset.Split
    public var folder: String
    public var parts: Int
    public var good: Int
    /// Defective parts per kind.
    public var defects: [DefectKind: Int]
    public var seconds: Double
}
