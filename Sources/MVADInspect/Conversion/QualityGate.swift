// The converter's quality gate: a converted pack's final feature maps and image scores on a
// few calibration parts, measured against the float model folder's, with named limits; a
// conversion that misses them is not kept.

import Foundation
import MVADEngine
import MVADPack

/// One calibration part, loaded at the model's size.
public struct CalibrationPart: Sendable {
    public let id: String
    public let images: PartImages

    public init(id: String, images: PartImages) {
        self.id = id
        self.images = images
    }
}

/// What the gate measured for one candidate model.
public struct QualityMeasurement: Sendable {
    public let partIDs: [String]
    /// Mean over parts, modalities and grid positions of the cosine similarity between the
    /// candidate's and the reference's feature vector at the same position.
    public let meanCosine: Double
    /// The smallest of those cosines (the worst single feature vector).
    public let minimumCosine: Double
    /// Leave-one-out image scores of each part (see `QualityGate`), reference and candidate.
    public let referenceScores: [Double]
    public let candidateScores: [Double]

    /// Part indices by ascending score (ties by part order).
    public var referenceOrder: [Int] { Self.order(referenceScores) }
    public var candidateOrder: [Int] { Self.order(candidateScores) }
    public var ranksIdentical: Bool { referenceOrder == candidateOrder }

    static func order(_ scores: [Double]) -> [Int] {
        scores.indices.sorted { (scores[$0], $0) < (scores[$1], $1) }
    }

    /// Why the candidate fails with this limit; empty when it passes.
    public func failures(minimumMeanCosine: Double) -> [String] {
        var problems: [String] = []
        if !(meanCosine >= minimumMeanCosine) {
            problems.append(String(format: "mean feature cosine %.6f is below the required ",
                                   meanCosine) + "\(minimumMeanCosine)")
        }
        if QualityGate.requiresRankIdentity && !ranksIdentical {
            let names = { (order: [Int]) in order.map { partIDs[$0] }.joined(separator: " < ") }
            problems.append("the image scores rank the parts differently: float model "
                            + names(referenceOrder) + ", pack " + names(candidateOrder))
        }
        return problems
    }
}

/// A conversion the gate did not keep, or a gate that cannot run.
public enum QualityGateError: Error, CustomStringConvertible {
    /// The measured values missed the limits; the pack was removed.
    case failed(pack: String, measurement: QualityMeasurement, minimumMeanCosine: Double)
    case tooFewParts(found: Int)
    case cannotKeep(from: String, to: String, problem: String)

    public var description: String {
        switch self {
        case let .failed(pack, measurement, minimum):
            return "quality gate failed for \(pack) on \(measurement.partIDs.count) calibration "
                + "parts: " + measurement.failures(minimumMeanCosine: minimum)
                    .joined(separator: "; ")
                + String(format: " (mean cosine %.6f, minimum %.6f); the pack was not written",
                         measurement.meanCosine, measurement.minimumCosine)
        case let .tooFewParts(found):
            return "the quality gate needs at least \(QualityGate.minimumParts) calibration "
                + "parts to rank them, got \(found)"
        case let .cannotKeep(from, to, problem):
            return "the checked pack \(from) could not be renamed to \(to): \(problem)"
        }
    }
}

/// Compares candidate models (packs) with the reference (float) model on calibration parts.
///
/// Image scores: each calibration part is scored leave-one-out against a memory bank built
/// *by the same model* from the other calibration parts, as `mvad bank build` followed by
/// `mvad inspect` with that model would score it; no other data is needed. The gate requires
/// both models to put the parts in the same order by score. Parts with defects among the
/// calibration parts make the order meaningful.
public struct QualityGate: Sendable {
    /// The smallest mean cosine similarity of the final feature maps a pack may have.
    public static let minimumMeanCosine = 0.995
    /// The candidate's image scores must rank the calibration parts as the reference's do.
    // FIXME: strict order also among parts whose float scores are nearly tied, since the
    // brief asks for rank identity; on the tiny fixture int8 swaps three good parts whose
    // fused scores lie within 1.1%, so calibration sets need clearly different parts.
    public static let requiresRankIdentity = true
    /// The fewest calibration parts a leave-one-out ranking needs.
    public static let minimumParts = 2

    public let reference: InspectionModel
    public let parts: [CalibrationPart]
    public let modality: Modality
    public let compute: Compute
    /// The reference model's features of each part, computed once.
    let referenceFeatures: [PartFeatures]
    /// The reference model's leave-one-out scores.
    let referenceScores: [Double]

    public init(reference: InspectionModel, parts: [CalibrationPart], modality: Modality,
                compute: Compute) throws {
        guard parts.count >= Self.minimumParts else {
            throw QualityGateError.tooFewParts(found: parts.count)
        }
        self.reference = reference
        self.parts = parts
        self.modality = modality
        self.compute = compute
        let extractor = FeatureExtractor(model: reference, compute: compute)
        referenceFeatures = try parts.map {
            try extractor.features(of: $0.images, modality: modality)
        }
        referenceScores = try Self.leaveOneOutScores(referenceFeatures, model: reference,
                                                     modality: modality, compute: compute)
    }

    /// Measures `candidate` against the reference.
    public func measure(_ candidate: InspectionModel) throws -> QualityMeasurement {
        let extractor = FeatureExtractor(model: candidate, compute: compute)
        let features = try parts.map { try extractor.features(of: $0.images, modality: modality) }
        var sum = 0.0, count = 0, smallest = Double.infinity
        for (a, b) in zip(referenceFeatures, features) {
            for (x, y) in [(a.rgb, b.rgb), (a.normals, b.normals)] {
                guard let x, let y else { continue }
                for cosine in try Self.positionCosines(x, y) {
                    sum += cosine
                    count += 1
                    smallest = min(smallest, cosine)
                }
            }
        }
        let scores = try Self.leaveOneOutScores(features, model: candidate, modality: modality,
                                                compute: compute)
        return QualityMeasurement(
            partIDs: parts.map(\.id), meanCosine: count > 0 ? sum / Double(count) : .nan,
            minimumCosine: smallest, referenceScores: referenceScores, candidateScores: scores)
    }

    /// Converts `modelFolder` into `output` and keeps the pack only when it passes: it is
    /// written under a temporary name next to `output`, measured, and renamed to `output`, or
    /// removed and `QualityGateError.failed` thrown. Returns the report and the measurement.
    public func convert(modelFolder: String, output: String, options: ConversionOptions,
                        minimumMeanCosine: Double = QualityGate.minimumMeanCosine) throws
        -> (report: ConversionReport, measurement: QualityMeasurement) {
        let unchecked = output + ".unchecked"
        var kept = false
        defer { if !kept { try? FileManager.default.removeItem(atPath: unchecked) } }
        var report = try PackConverter.convert(modelFolder: modelFolder, output: unchecked,
                                               options: options)
        let measurement = try measure(try InspectionModel.load(pack: unchecked))
        guard measurement.failures(minimumMeanCosine: minimumMeanCosine).isEmpty else {
            throw QualityGateError.failed(pack: output, measurement: measurement,
                                          minimumMeanCosine: minimumMeanCosine)
        }
        guard rename(unchecked, output) == 0 else {
            throw QualityGateError.cannotKeep(from: unchecked, to: output,
                                              problem: String(cString: strerror(errno)))
        }
        kept = true
        report.output = output
        return (report, measurement)
    }

    /// Cosine similarity at each grid position of two maps [C, G, G]: 1 where both vectors
    /// are zero, 0 where only one is.
    static func positionCosines(_ a: Tensor, _ b: Tensor) throws -> [Double] {
        guard a.shape == b.shape, a.rank == 3 else {
            throw InspectionError.internalState(
                "feature maps of shapes \(a.shape) and \(b.shape) cannot be compared")
        }
        let channels = a.shape[0], positions = a.shape[1] * a.shape[2]
        return (0..<positions).map { p in
            var dot = 0.0, normA = 0.0, normB = 0.0
            for c in 0..<channels {
                let x = Double(a.scalars[c * positions + p])
                let y = Double(b.scalars[c * positions + p])
                dot += x * y
                normA += x * x
                normB += y * y
            }
            if normA == 0 && normB == 0 { return 1 }
            if normA == 0 || normB == 0 { return 0 }
            return dot / (normA.squareRoot() * normB.squareRoot())
        }
    }

    /// Each part's fused image score against a bank of the other parts' features.
    static func leaveOneOutScores(_ features: [PartFeatures], model: InspectionModel,
                                  modality: Modality, compute: Compute) throws -> [Double] {
        let settings = model.bankDependencies(for: modality)
        return try features.indices.map { i in
            var banks: [MemoryBank] = []
            for bankModality in Inspector.bankModalities(modality) {
                let maps = features.indices.filter { $0 != i }.compactMap {
                    bankModality == .rgb ? features[$0].rgb : features[$0].normals
                }
                guard let channels = maps.first?.shape[0] else { continue }
                var bank = try MemoryBank(modality: bankModality, channels: channels,
                                          settings: settings)
                for map in maps { try bank.append(features: map) }
                banks.append(bank)
            }
            let scorer = try AnomalyScorer(
                banks: try BankFile(banks: banks, threshold: nil, provenance: [:]),
                expectedSettings: settings, options: model.settings.scoringOptions)
            var own: [MemoryBank.Modality: Tensor] = [:]
            own[.rgb] = features[i].rgb
            own[.normals] = features[i].normals
            return try scorer.score(own, compute: compute).imageScore
        }
    }
}
