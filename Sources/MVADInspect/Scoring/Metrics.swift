// Metrics: image and pixel AUROC (equal to sklearn.metrics.roc_auc_score) and AUPRO (per-region
// overlap integrated over the false positive rate up to 0.3, as in the MVTec AD protocol).

import MVADEngine

/// The evaluation metrics of the method. Ground-truth masks are tensors whose pixels > 0.5
/// are anomalous (0/1 and 0/255 masks both work).
public enum Metrics {
    /// The false positive rate up to which AUPRO integrates.
    public static let defaultMaxFalsePositiveRate = 0.3

    /// Area under the ROC curve of `scores` for `labels` (true = anomalous, ranked high).
    ///
    /// Computed as the Mann-Whitney statistic with tied positive/negative pairs counted 1/2,
    /// which equals sklearn's trapezoid over the ROC curve with tied scores grouped. The pair
    /// count is exact in integers; the one division is the only rounding. Sorting makes it
    /// O(n log n). Throws when a class is absent (sklearn raises too) or a score is NaN.
    public static func auroc<Score: BinaryFloatingPoint>(
        scores: [Score], labels: [Bool]
    ) throws -> Double {
        try checkPairs(scores.count, labels.count, metric: "AUROC")
        if let index = scores.firstIndex(where: { $0.isNaN }) {
            throw ScoringError.undefinedMetric(metric: "AUROC", reason: "score \(index) is NaN")
        }
        let positives = zip(scores, labels).filter { $0.1 }.map(\.0)
        let negatives = zip(scores, labels).filter { !$0.1 }.map(\.0)
        return try mannWhitney(positives: positives, negatives: negatives, metric: "AUROC")
    }

    /// AUROC over every pixel of every image: pixels of `masks` > 0.5 are anomalous. Each map
    /// must have the shape of its mask.
    public static func pixelAUROC(scoreMaps: [Tensor], masks: [Tensor]) throws -> Double {
        let metric = "pixel AUROC"
        try checkMaps(scoreMaps, masks, metric: metric, requireRank2: false)
        var positives: [Float] = []
        var negatives: [Float] = []
        for (map, mask) in zip(scoreMaps, masks) {
            try ScoringError.requireFinite(map, "a score map of the \(metric)")
            for (score, truth) in zip(map.scalars, mask.scalars) {
                if truth > 0.5 { positives.append(score) } else { negatives.append(score) }
            }
        }
        return try mannWhitney(positives: positives, negatives: negatives, metric: metric)
    }

    /// 2 * U / (2 * n+ * n-) with U counting (positive > negative) pairs as 1 and ties as 1/2.
    private static func mannWhitney<Score: BinaryFloatingPoint>(
        positives: [Score], negatives: [Score], metric: String
    ) throws -> Double {
        guard !positives.isEmpty, !negatives.isEmpty else {
            let missing = positives.isEmpty ? "anomalous" : "normal"
            throw ScoringError.undefinedMetric(
                metric: metric, reason: "there is no \(missing) sample; both classes are needed")
        }
        let pairs = 2 * Double(positives.count) * Double(negatives.count)
        guard pairs < 9e18 else {
            throw ScoringError.undefinedMetric(
                metric: metric, reason: "\(pairs / 2) pairs overflow the 64-bit pair count")
        }
        let positives = positives.sorted()
        let negatives = negatives.sorted()
        var below = 0       // negatives < the current positive
        var notAbove = 0    // negatives <= the current positive
        var twiceU = 0
        for score in positives {
            while below < negatives.count && negatives[below] < score { below += 1 }
            notAbove = max(notAbove, below)
            while notAbove < negatives.count && negatives[notAbove] <= score { notAbove += 1 }
            twiceU += below + notAbove
        }
        return Double(twiceU) / pairs
    }

    /// AUPRO: the area under the per-region-overlap curve for false positive rates from 0 to
    /// `maxFalsePositiveRate`, divided by `maxFalsePositiveRate` (1 is perfect).
    ///
    /// Definitions: regions are the 8-connected components of each image's mask (see
    /// `ConnectedRegions`). Thresholds are every distinct score, swept from high to low; a
    /// pixel counts as predicted anomalous at threshold t when its score >= t. At each
    /// threshold, FPR = normal pixels predicted anomalous / all normal pixels of all images,
    /// and PRO = the mean over all regions of all images of the fraction of the region
    /// predicted. The curve starts at (0, 0); pixels with equal scores enter together, so ties
    /// give one diagonal step. It is integrated with the trapezoid rule, the last segment cut
    /// at exactly `maxFalsePositiveRate` by linear interpolation. No binning: exact thresholds.
    public static func aupro(
        scoreMaps: [Tensor], masks: [Tensor],
        maxFalsePositiveRate: Double = defaultMaxFalsePositiveRate
    ) throws -> Double {
        guard maxFalsePositiveRate > 0, maxFalsePositiveRate <= 1 else {
            throw ScoringError.invalidParameter(
                name: "AUPRO's maximum false positive rate", found: "\(maxFalsePositiveRate)",
                expected: "in (0, 1]")
        }
        let curve = try proCurve(
            scoreMaps: scoreMaps, masks: masks, upTo: maxFalsePositiveRate)
        return integrate(curve, upTo: maxFalsePositiveRate) / maxFalsePositiveRate
    }

    /// The trapezoid area under `curve` (non-decreasing FPR) for FPR in 0...limit.
    static func integrate(
        _ curve: [(falsePositiveRate: Double, overlap: Double)], upTo limit: Double
    ) -> Double {
        var area = 0.0
        for (start, end) in zip(curve, curve.dropFirst()) {
            let (x0, y0, x1, y1) = (start.0, start.1, end.0, end.1)
            if x1 <= limit {
                area += (x1 - x0) * (y0 + y1) / 2
                continue
            }
            if x0 < limit {
                let yLimit = y0 + (y1 - y0) * (limit - x0) / (x1 - x0)
                area += (limit - x0) * (y0 + yLimit) / 2
            }
            break
        }
        return area
    }

    /// The PRO curve, as (FPR, PRO) points from (0, 0), one point per distinct score (see
    /// `aupro`); with `limit`, it stops at the first point whose FPR reaches the limit.
    public static func proCurve(
        scoreMaps: [Tensor], masks: [Tensor], upTo limit: Double? = nil
    ) throws -> [(falsePositiveRate: Double, overlap: Double)] {
        let metric = "AUPRO"
        try checkMaps(scoreMaps, masks, metric: metric, requireRank2: true)
        let pixels = try RegionTable(masks: masks)

        var keys = [UInt64]()  // descending score, then pixel index
        keys.reserveCapacity(pixels.regionOf.count)
        for (image, map) in scoreMaps.enumerated() {
            try ScoringError.requireFinite(map, "score map \(image) of the \(metric)")
            let offset = pixels.imageOffsets[image]
            for (i, score) in map.scalars.enumerated() {
                keys.append(UInt64(orderKey(score)) << 32 | UInt64(offset + i))
            }
        }
        keys.sort(by: >)

        var curve: [(falsePositiveRate: Double, overlap: Double)] = [(0, 0)]
        var (falsePositives, overlapSum) = (0, 0.0)
        let (normals, regions) = (Double(pixels.normalCount), Double(pixels.regionWeights.count))
        var i = 0
        while i < keys.count {
            let group = keys[i] >> 32
            while i < keys.count && keys[i] >> 32 == group {
                let region = Int(pixels.regionOf[Int(keys[i] & 0xFFFF_FFFF)])
                if region < 0 { falsePositives += 1 } else {
                    overlapSum += pixels.regionWeights[region]
                }
                i += 1
            }
            curve.append((Double(falsePositives) / normals, overlapSum / regions))
            if let limit, Double(falsePositives) / normals >= limit { break }
        }
        return curve
    }

    /// An unsigned key whose order is the order of the finite Float `score` (-0 equals +0).
    static func orderKey(_ score: Float) -> UInt32 {
        let bits = (score == 0 ? 0 : score).bitPattern
        return bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
    }

    private static func checkPairs(_ scores: Int, _ labels: Int, metric: String) throws {
        guard scores == labels else {
            throw ScoringError.undefinedMetric(
                metric: metric, reason: "\(scores) scores but \(labels) labels; expected one "
                    + "label per score")
        }
    }

    private static func checkMaps(
        _ maps: [Tensor], _ masks: [Tensor], metric: String, requireRank2: Bool
    ) throws {
        try checkPairs(maps.count, masks.count, metric: metric)
        for (index, (map, mask)) in zip(maps, masks).enumerated() {
            guard map.shape == mask.shape, !requireRank2 || map.rank == 2 else {
                throw ScoringError.invalidShape(
                    what: "score map \(index) of the \(metric) (mask shape \(mask.shape))",
                    found: map.shape,
                    expected: requireRank2 ? "[H, W], the shape of its mask" : "its mask's shape")
            }
        }
    }
}

/// Every pixel's region (global over images; -1 = normal) and each region's weight
/// 1 / region size, for the PRO sweep.
private struct RegionTable {
    var regionOf: [Int32] = []
    var regionWeights: [Double] = []
    var imageOffsets: [Int] = []
    var normalCount = 0

    init(masks: [Tensor]) throws {
        for mask in masks {
            let (height, width) = (mask.shape[0], mask.shape[1])
            let regions = ConnectedRegions(
                mask: mask.scalars.map { $0 > 0.5 }, height: height, width: width)
            imageOffsets.append(regionOf.count)
            let first = Int32(regionWeights.count)
            regionOf.append(contentsOf: regions.labels.map { $0 == 0 ? -1 : first + $0 - 1 })
            regionWeights.append(contentsOf: regions.sizes.map { 1 / Double($0) })
            normalCount += regions.labels.count - regions.sizes.reduce(0, +)
        }
        guard regionOf.count < 1 << 32 else {
            throw ScoringError.undefinedMetric(
                metric: "AUPRO", reason: "\(regionOf.count) pixels exceed the 2^32 supported")
        }
        guard normalCount > 0, !regionWeights.isEmpty else {
            let missing = normalCount == 0 ? "normal pixel" : "anomalous region"
            throw ScoringError.undefinedMetric(
                metric: "AUPRO", reason: "the masks hold no \(missing); both are needed")
        }
    }
}
