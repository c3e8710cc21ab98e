// The threshold search over good and bad scores (F1, Youden's J), the ROC curve, and the
// one-sided binomial upper bound on a false-reject rate.

import Foundation

extension ThresholdCalibration {
    /// Counts at one threshold: bad parts are the positive class.
    struct Confusion {
        let truePositives: Int, falsePositives: Int, falseNegatives: Int
        let positives: Int, negatives: Int
    }

    /// The candidate thresholds, ascending: the lowest score, the midpoint between each pair
    /// of consecutive distinct scores, and the next Double above the highest score. Together
    /// they reach every distinct split of the parts into pass and fail.
    static func candidates(_ scores: [Double]) -> [Double] {
        let distinct = Array(Set(scores)).sorted()
        guard let lowest = distinct.first, let highest = distinct.last else { return [] }
        let midpoints = zip(distinct, distinct.dropFirst()).map { midpoint($0, $1) }
        return [lowest] + midpoints + [highest.nextUp]
    }

    /// Halfway between `lower` < `upper`; `upper` itself when the two are so close that the
    /// halfway value rounds down to `lower` (either way `lower` passes and `upper` fails).
    static func midpoint(_ lower: Double, _ upper: Double) -> Double {
        let middle = lower + (upper - lower) / 2
        return middle > lower ? middle : upper
    }

    /// Counts at `threshold`; `good` and `bad` must be sorted ascending.
    static func confusion(at threshold: Double, good: [Double], bad: [Double]) -> Confusion {
        let truePositives = countAtOrAbove(threshold, in: bad)
        return Confusion(
            truePositives: truePositives,
            falsePositives: countAtOrAbove(threshold, in: good),
            falseNegatives: bad.count - truePositives,
            positives: bad.count, negatives: good.count)
    }

    /// How many scores of the ascending list `sorted` are >= `threshold` (binary search).
    static func countAtOrAbove(_ threshold: Double, in sorted: [Double]) -> Int {
        var low = 0, high = sorted.count
        while low < high {
            let middle = (low + high) / 2
            if sorted[middle] < threshold { low = middle + 1 } else { high = middle }
        }
        return sorted.count - low
    }

    /// F1 = 2 TP / (2 TP + FP + FN); 0 when no bad part is caught.
    static func f1(_ c: Confusion) -> Double {
        let denominator = 2 * c.truePositives + c.falsePositives + c.falseNegatives
        return denominator == 0 ? 0 : Double(2 * c.truePositives) / Double(denominator)
    }

    /// Youden's J = TPR - FPR.
    static func youden(_ c: Confusion) -> Double {
        Double(c.truePositives) / Double(c.positives)
            - Double(c.falsePositives) / Double(c.negatives)
    }

    /// The candidate with the highest objective. Candidates are scanned upwards and a later
    /// candidate wins a tie, so ties go to the higher threshold (fewer false rejects).
    /// Objectives are compared exactly: equal counts give bit-equal values.
    static func bestThreshold(good: [Double], bad: [Double],
                              by objective: (Confusion) -> Double) -> Double {
        precondition(!good.isEmpty && !bad.isEmpty, "the search needs good and bad scores")
        let (good, bad) = (good.sorted(), bad.sorted())
        var best = -Double.infinity
        var chosen = 0.0
        for threshold in candidates(good + bad) {
            let value = objective(confusion(at: threshold, good: good, bad: bad))
            if value >= best {
                best = value
                chosen = threshold
            }
        }
        return chosen
    }

    /// The ROC curve over the candidate thresholds, from the highest threshold (0, 0) down to
    /// the lowest (1, 1). Throws when either set is empty or holds a NaN or infinity.
    public static func rocCurve(good: [PartScore], bad: [PartScore]) throws -> [ROCPoint] {
        guard !good.isEmpty else { throw CalibrationError.noGoodParts }
        guard !bad.isEmpty else { throw CalibrationError.needsBadParts(strategy: .youdenJ) }
        try [(good, "good"), (bad, "bad")].forEach { parts, label in
            if let part = parts.first(where: { !$0.score.isFinite }) {
                throw CalibrationError.nonFiniteScore(id: part.id, label: label, value: part.score)
            }
        }
        let goodScores = good.map(\.score).sorted(), badScores = bad.map(\.score).sorted()
        return candidates(goodScores + badScores).reversed().map { threshold in
            let c = confusion(at: threshold, good: goodScores, bad: badScores)
            return ROCPoint(threshold: threshold,
                            falsePositiveRate: Double(c.falsePositives) / Double(c.negatives),
                            truePositiveRate: Double(c.truePositives) / Double(c.positives))
        }
    }

    // MARK: Binomial upper bound

    /// The one-sided Clopper-Pearson upper bound on a rate: the p at which seeing at most
    /// `failures` in `trials` has probability `alpha`. With no failure it is 1 - alpha^(1/n).
    static func upperBound(failures: Int, trials: Int, alpha: Double) -> Double {
        precondition(trials > 0 && failures >= 0 && failures <= trials)
        if failures == trials { return 1 }
        if failures == 0 { return 1 - pow(alpha, 1 / Double(trials)) }
        // The binomial CDF falls as p rises, so bisect for CDF(p) = alpha.
        var low = Double(failures) / Double(trials), high = 1.0
        for _ in 0..<200 where high - low > 1e-15 {
            let middle = (low + high) / 2
            if binomialCDF(failures, trials: trials, p: middle) > alpha {
                low = middle
            } else {
                high = middle
            }
        }
        return (low + high) / 2
    }

    /// P(X <= k) for X ~ Binomial(n, p), summed in log space so large n does not overflow.
    static func binomialCDF(_ k: Int, trials n: Int, p: Double) -> Double {
        let logP = log(p), logQ = log1p(-p)
        var logChoose = 0.0  // log C(n, i), updated from log C(n, i - 1)
        var total = 0.0
        for i in 0...k {
            if i > 0 { logChoose += log(Double(n - i + 1)) - log(Double(i)) }
            total += exp(logChoose + Double(i) * logP + Double(n - i) * logQ)
        }
        return min(total, 1)
    }
}
