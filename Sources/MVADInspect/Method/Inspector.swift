// One part in, a verdict out: features through the FeatureExtractor, scores against the
// memory banks through the AnomalyScorer, and the comparison with the threshold.

import MVADEngine

/// The outcome of inspecting one part.
public struct InspectionResult: Sendable {
    public let partID: String
    /// Fused image score (w_rgb * s_rgb + w_normals * s_normals).
    public let score: Double
    public let rgbScore: Double?
    public let normalsScore: Double?
    /// The threshold the score was compared with, and where it came from.
    public let threshold: Double?
    public let thresholdSource: String
    /// true: the part passed (score below the threshold); nil: no threshold known.
    public let passed: Bool?
    public let scores: PartScores
    public let timings: [String: Double]
}

public struct Inspector: Sendable {
    public let extractor: FeatureExtractor
    public let scorer: AnomalyScorer
    public let modality: Modality
    public let threshold: Double?
    public let thresholdSource: String

    /// `threshold` overrides the bank's stored one.
    public init(model: InspectionModel, banks: BankFile, modality: Modality, compute: Compute,
                threshold: Double? = nil) throws {
        extractor = FeatureExtractor(model: model, compute: compute)
        let expected = model.bankDependencies(for: modality)
        for needed in Inspector.bankModalities(modality) {
            guard let bank = banks.banks[needed] else {
                throw InspectionError.bankDoesNotFit(
                    path: banks.path ?? "(not saved)", problem: "has no \(needed.rawValue) bank, which "
                        + "modality '\(modality.rawValue)' needs"
                        + Inspector.builtWith(banks))
            }
            if bank.settings["feature_source"] != expected["feature_source"] {
                throw InspectionError.bankDoesNotFit(
                    path: banks.path ?? "(not saved)",
                    problem: "holds features of '\(bank.settings["feature_source"] ?? "?")', but "
                        + "modality '\(modality.rawValue)' uses '\(expected["feature_source"] ?? "?")'"
                        + Inspector.builtWith(banks))
            }
        }
        scorer = try AnomalyScorer(banks: banks, expectedSettings: expected,
                                   options: model.settings.scoringOptions)
        self.modality = modality
        if let threshold {
            self.threshold = threshold
            thresholdSource = "command line"
        } else {
            self.threshold = banks.threshold
            let stored = banks.provenance["threshold_source"].map { "bank file, from \($0)" }
            thresholdSource = banks.threshold == nil ? "none" : stored ?? "bank file"
        }
        if let value = self.threshold, !(value > 0 && value.isFinite) {
            throw InspectionError.bankDoesNotFit(
                path: banks.path ?? "(not saved)",
                problem: "gives threshold \(value) (\(thresholdSource)); a threshold must be a "
                    + "finite number > 0")
        }
    }

    /// A hint naming the modality a bank file was built with, when it records it.
    static func builtWith(_ banks: BankFile) -> String {
        guard let built = banks.provenance["modality"] else { return "" }
        return "; it was built with --modality \(built): inspect with --modality \(built), or "
            + "rebuild the bank with the modality you want"
    }

    /// The banks a modality scores against.
    public static func bankModalities(_ modality: Modality) -> [MemoryBank.Modality] {
        switch modality {
        case .both: return [.rgb, .normals]
        case .rgb: return [.rgb]
        case .normals: return [.normals]
        }
    }

    /// The verdict on one part. `cancellation` is asked before each VAE encode, each UNet +
    /// ControlNet batch and the scoring; when it answers true, this throws
    /// `InspectionError.cancelled` (never a partial result). Without it nothing changes.
    public func inspect(_ part: LoadedPart,
                        cancellation: (any CancellationCheck)? = nil) throws -> InspectionResult {
        let features = try extractor.features(
            of: PartImages(lights: part.lights, normals: part.normals), modality: modality,
            cancellation: cancellation)
        try checkCancellation(cancellation, before: "the scoring")
        var clock = Stopwatch()
        var maps: [MemoryBank.Modality: Tensor] = [:]
        maps[.rgb] = features.rgb
        maps[.normals] = features.normals
        let scores = try scorer.score(maps, compute: extractor.compute)
        var timings = features.timings
        timings["scoring_s"] = clock.lap()
        return InspectionResult(
            partID: part.id, score: scores.imageScore,
            rgbScore: scores.modalities[.rgb]?.imageScore,
            normalsScore: scores.modalities[.normals]?.imageScore,
            threshold: threshold, thresholdSource: thresholdSource,
            passed: threshold.map { scores.imageScore < $0 }, scores: scores, timings: timings)
    }
}

/// Builds memory banks from good parts, one part at a time.
public struct BankBuilder: Sendable {
    public let extractor: FeatureExtractor
    public let modality: Modality
    private(set) var banks: [MemoryBank.Modality: MemoryBank] = [:]
    public private(set) var partCount = 0

    public init(model: InspectionModel, modality: Modality, compute: Compute) throws {
        extractor = FeatureExtractor(model: model, compute: compute)
        self.modality = modality
        let settings = model.bankDependencies(for: modality)
        for m in Inspector.bankModalities(modality) {
            let channels = try Self.featureChannels(model)
            banks[m] = try MemoryBank(modality: m, channels: channels, settings: settings,
                                      provenance: ["model": model.source])
        }
    }

    /// Channels of the concatenated feature blocks (from the UNet's config).
    static func featureChannels(_ model: InspectionModel) throws -> Int {
        let reversed = Array(model.unet.config.blockOutChannels.reversed())
        return model.settings.featureBlocks.reduce(0) { $0 + reversed[$1] }
    }

    /// Adds every grid position of one good part.
    public mutating func add(_ part: LoadedPart) throws -> [String: Double] {
        let features = try extractor.features(
            of: PartImages(lights: part.lights, normals: part.normals), modality: modality)
        if let rgb = features.rgb { try banks[.rgb]?.append(features: rgb) }
        if let normals = features.normals { try banks[.normals]?.append(features: normals) }
        partCount += 1
        return features.timings
    }

    /// The bank file, optionally reduced to a coreset fraction of each bank.
    public func bankFile(coresetFraction: Double?, provenance: [String: String]) throws -> BankFile {
        var result: [MemoryBank] = []
        for (_, bank) in banks.sorted(by: { $0.key < $1.key }) {
            if let fraction = coresetFraction, fraction < 1 {
                result.append(try Coreset.reduce(bank, fraction: fraction, compute: extractor.compute))
            } else {
                result.append(bank)
            }
        }
        return try BankFile(banks: result, threshold: nil, provenance: provenance)
    }
}
