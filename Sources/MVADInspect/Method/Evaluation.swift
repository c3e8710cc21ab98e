// The paper's metrics over a labelled test set, per modality: image AUROC, pixel AUROC and
// AUPRO (integrated to a false-positive rate of 0.3, normalised), for RGB, NMap and RGB+NMap.

import MVADEngine

/// One row of the paper's table.
public struct EvaluationRow: Sendable, Equatable {
    /// "RGB", "NMap" or "RGB+NMap".
    public let name: String
    public let imageAUROC: Double
    public let pixelAUROC: Double
    public let aupro: Double
}

/// One inspected test part with its ground truth.
public struct EvaluatedPart: Sendable {
    public let result: InspectionResult
    /// Ground-truth mask [S, S], 1 = anomalous.
    public let mask: Tensor
    public let isDefective: Bool

    public init(result: InspectionResult, mask: Tensor, isDefective: Bool) {
        self.result = result
        self.mask = mask
        self.isDefective = isDefective
    }
}

public enum Evaluation {
    /// The table rows for the modalities that were scored: RGB, NMap, and their fusion when
    /// both were.
    public static func rows(_ parts: [EvaluatedPart]) throws -> [EvaluationRow] {
        guard let first = parts.first else { return [] }
        let labels = parts.map(\.isDefective)
        let masks = parts.map(\.mask)
        var rows: [EvaluationRow] = []
        let present = first.result.scores.modalities.keys.sorted()
        for modality in present {
            let scores = try parts.map { part -> Double in
                guard let s = part.result.scores.modalities[modality] else {
                    throw InspectionError.internalState("part \(part.result.partID) lacks "
                                                        + "\(modality.rawValue) scores")
                }
                return s.imageScore
            }
            let maps = parts.compactMap { $0.result.scores.modalities[modality]?.pixelMap }
            rows.append(try row(modality == .rgb ? "RGB" : "NMap", scores: scores, labels: labels,
                                maps: maps, masks: masks))
        }
        if present.count == 2 {
            rows.append(try row("RGB+NMap", scores: parts.map(\.result.score), labels: labels,
                                maps: parts.map(\.result.scores.pixelMap), masks: masks))
        }
        return rows
    }

    static func row(_ name: String, scores: [Double], labels: [Bool], maps: [Tensor],
                    masks: [Tensor]) throws -> EvaluationRow {
        EvaluationRow(name: name, imageAUROC: try Metrics.auroc(scores: scores, labels: labels),
                      pixelAUROC: try Metrics.pixelAUROC(scoreMaps: maps, masks: masks),
                      aupro: try Metrics.aupro(scoreMaps: maps, masks: masks))
    }
}

/// Image AUROC for one kind of defect: the defective parts of that kind against every good
/// part, per modality. It shows which views a kind of defect needs (stains are visible in the
/// lights, dents in the normal map).
public struct DefectKindRow: Sendable, Equatable {
    public let kind: String
    /// How many defective parts have this kind.
    public let count: Int
    /// Image AUROC per modality name ("RGB", "NMap", "RGB+NMap"), for those that were scored.
    public let imageAUROC: [String: Double]
}

extension Evaluation {
    /// One row per defect kind named in `kinds` (part id -> its defect kinds; a part with
    /// several kinds counts for each). Defective parts without an entry are left out; good
    /// parts are all used. Kinds come out sorted by name.
    public static func rowsByKind(_ parts: [EvaluatedPart],
                                  kinds: [String: [String]]) throws -> [DefectKindRow] {
        let good = parts.filter { !$0.isDefective }
        guard !good.isEmpty else { return [] }
        var byKind: [String: [EvaluatedPart]] = [:]
        for part in parts where part.isDefective {
            for kind in kinds[part.result.partID] ?? [] { byKind[kind, default: []].append(part) }
        }
        return try byKind.keys.sorted().map { kind in
            let subset = good + (byKind[kind] ?? [])
            let labels = subset.map(\.isDefective)
            var aurocs: [String: Double] = [:]
            for modality in subset[0].result.scores.modalities.keys {
                let scores = subset.map { $0.result.scores.modalities[modality]?.imageScore ?? .nan }
                aurocs[modality == .rgb ? "RGB" : "NMap"] =
                    try Metrics.auroc(scores: scores, labels: labels)
            }
            if aurocs.count == 2 {
                aurocs["RGB+NMap"] = try Metrics.auroc(scores: subset.map(\.result.score),
                                                       labels: labels)
            }
            return DefectKindRow(kind: kind, count: subset.count - good.count, imageAUROC: aurocs)
        }
    }
}
