// AnomalyScorer: scores one part's feature maps [C, G, G] against the memory banks of a bank
// file: nearest-neighbour grid maps, image scores and pixel maps per modality, and fused.

import MVADEngine

/// The scoring parameters of the method (defaults: the public implementation's).
public struct ScoringOptions: Sendable, Equatable {
    /// k of the image score: mean of the k largest grid distances.
    public var topK = 3
    /// Weight of the RGB image score in the fused image score.
    public var rgbWeight = 1.0
    /// Weight of the normal-map image score in the fused image score.
    public var normalsWeight = 1.0
    /// Side S of the square pixel maps.
    public var imageSize = 256
    /// Standard deviation of the pixel-map blur, in pixels (0: no blur).
    public var blurSigma = 4.0
    /// Kernel radius of the blur in units of sigma (scipy's `truncate`).
    public var blurTruncate = 4.0

    public init() {}

    /// Throws `invalidParameter` for the first out-of-range option.
    public func validate() throws {
        func check(_ ok: Bool, _ name: String, _ value: Any, _ expected: String) throws {
            guard ok else {
                throw ScoringError.invalidParameter(
                    name: name, found: "\(value)", expected: expected)
            }
        }
        try check(topK > 0, "topK", topK, "> 0")
        try check(rgbWeight.isFinite, "rgbWeight", rgbWeight, "finite")
        try check(normalsWeight.isFinite, "normalsWeight", normalsWeight, "finite")
        try check(imageSize > 0, "imageSize", imageSize, "> 0")
        try check(blurSigma >= 0 && blurSigma.isFinite, "blurSigma", blurSigma, ">= 0")
        try check(blurTruncate > 0 && blurTruncate.isFinite, "blurTruncate", blurTruncate, "> 0")
    }
}

/// What one modality contributes to a part's scores.
public struct ModalityScores: Sendable, Equatable {
    public let modality: MemoryBank.Modality
    /// Nearest-neighbour distances on the feature grid [G, G].
    public let gridMap: Tensor
    /// Bank row of each position's nearest neighbour, p = y * G + x.
    public let nearestIndices: [Int]
    /// Mean of the k largest grid distances.
    public let imageScore: Double
    /// Upsampled, blurred distance map [S, S].
    public let pixelMap: Tensor
}

/// A part's scores: per modality and fused.
public struct PartScores: Sendable, Equatable {
    public let modalities: [MemoryBank.Modality: ModalityScores]
    /// w_rgb * s_rgb + w_normals * s_normals over the modalities scored.
    public let imageScore: Double
    /// Sum of the modalities' pixel maps [S, S] (RGB first).
    public let pixelMap: Tensor
}

/// Scores parts against the banks of a bank file. Banks are checked against the expected
/// settings once, at creation, and their norms are precomputed then.
public struct AnomalyScorer: Sendable {
    public let options: ScoringOptions
    private let indexes: [MemoryBank.Modality: NearestNeighbourIndex]

    /// Prepares every bank of `banks`; each must have been built with exactly
    /// `expectedSettings` (one set shared by both modalities).
    public init(
        banks: BankFile, expectedSettings: [String: String], options: ScoringOptions = .init()
    ) throws {
        try options.validate()
        var indexes: [MemoryBank.Modality: NearestNeighbourIndex] = [:]
        for modality in banks.banks.keys.sorted() {
            let bank = try banks.bank(modality, expectedSettings: expectedSettings)
            indexes[modality] = try NearestNeighbourIndex(bank: bank)
        }
        self.options = options
        self.indexes = indexes
    }

    /// The modalities this scorer has banks for.
    public var modalities: [MemoryBank.Modality] { indexes.keys.sorted() }

    /// Scores one part from its feature maps [C, G, G] per modality; every modality given
    /// needs a bank, and at least one modality must be given.
    public func score(
        _ features: [MemoryBank.Modality: Tensor], compute: Compute
    ) throws -> PartScores {
        guard !features.isEmpty else {
            throw ScoringError.invalidParameter(
                name: "features to score", found: "none", expected: "rgb and/or normals maps")
        }
        var scores: [MemoryBank.Modality: ModalityScores] = [:]
        for (modality, map) in features.sorted(by: { $0.key < $1.key }) {
            scores[modality] = try score(map, modality: modality, compute: compute)
        }
        let imageScore = AnomalyScores.fusedImageScore(
            rgb: scores[.rgb]?.imageScore, normals: scores[.normals]?.imageScore,
            rgbWeight: options.rgbWeight, normalsWeight: options.normalsWeight)
        let pixelMap = try AnomalyScores.fusedPixelMap(
            [scores[.rgb]?.pixelMap, scores[.normals]?.pixelMap].compactMap { $0 })
        return PartScores(modalities: scores, imageScore: imageScore, pixelMap: pixelMap)
    }

    /// Scores one modality's feature map [C, G, G].
    public func score(
        _ features: Tensor, modality: MemoryBank.Modality, compute: Compute
    ) throws -> ModalityScores {
        guard let index = indexes[modality] else {
            throw ScoringError.missingBank(modality: modality.rawValue, path: nil)
        }
        guard features.rank == 3, features.shape[1] == features.shape[2] else {
            throw ScoringError.invalidShape(
                what: "the \(modality.rawValue) feature map", found: features.shape,
                expected: "[\(index.channels), G, G]")
        }
        let gridSize = features.shape[1]
        let queries = try MemoryBank.positionVectors(
            of: features, channels: index.channels,
            what: "the \(modality.rawValue) feature map")  // [P, C]
        let nearest = try index.search(queries, compute: compute)
        let gridMap = try AnomalyScores.gridMap(
            distances: nearest.distances, gridSize: gridSize)  // [G, G]
        let pixelMap = try AnomalyScores.pixelMap(
            gridMap: gridMap, imageSize: options.imageSize, sigma: options.blurSigma,
            truncate: options.blurTruncate)  // [S, S]
        return ModalityScores(
            modality: modality, gridMap: gridMap, nearestIndices: nearest.indices,
            imageScore: try AnomalyScores.imageScore(gridMap: gridMap, topK: options.topK),
            pixelMap: pixelMap)
    }
}
