// The inputs and outputs of threshold calibration: part scores, options, strategies, errors,
// score statistics and the calibration result a technician reads and a bank stores.

/// The image score of one calibration part; higher means more anomalous.
public struct PartScore: Sendable, Equatable {
    public let id: String
    public let score: Double

    public init(id: String, score: Double) {
        self.id = id
        self.score = score
    }
}

/// How the pass/fail threshold is chosen. A part fails when its score is >= the threshold.
public enum CalibrationStrategy: String, Sendable, Equatable, CaseIterable {
    /// Good and bad parts: Youden's J when the sets overlap, else `separationMidpoint`.
    /// Good parts only: `maxGoodPlusMargin`.
    case automatic
    /// threshold = max_good + margin * |max_good| (= max_good * (1 + margin) for scores >= 0).
    case maxGoodPlusMargin = "max_good_plus_margin"
    /// The empirical (1 - R) quantile of the good scores; see `QuantileFigures`.
    case goodQuantile = "good_quantile"
    /// The candidate threshold with the highest F1 score, bad parts being the positive class.
    case maxF1 = "max_f1"
    /// The candidate threshold with the highest Youden's J = TPR - FPR.
    case youdenJ = "youden_j"
    /// (max_good + min_bad) / 2; only defined when every bad score exceeds every good score.
    case separationMidpoint = "separation_midpoint"
}

/// Calibration settings.
public struct CalibrationOptions: Sendable, Equatable {
    public var strategy: CalibrationStrategy
    /// Relative margin M of `maxGoodPlusMargin`: 0.05 puts the threshold 5 % above the
    /// highest good score.
    public var margin: Double
    /// Target false-reject rate R of `goodQuantile`, in (0, 1).
    public var targetFalseRejectRate: Double
    /// One-sided confidence level of the false-reject upper bound, in (0, 1).
    public var confidence: Double

    public init(strategy: CalibrationStrategy = .automatic, margin: Double = 0.05,
                targetFalseRejectRate: Double = 0.01, confidence: Double = 0.95) {
        self.strategy = strategy
        self.margin = margin
        self.targetFalseRejectRate = targetFalseRejectRate
        self.confidence = confidence
    }
}

/// Bad calibration input.
public enum CalibrationError: Error, Equatable, CustomStringConvertible {
    /// No good parts were given: there is nothing to calibrate from.
    case noGoodParts
    /// The part `id` (labelled `label`) has a NaN or infinite score.
    case nonFiniteScore(id: String, label: String, value: Double)
    /// An option is out of range.
    case invalidOption(name: String, found: String, expected: String)
    /// `strategy` needs scores of bad parts and none were given.
    case needsBadParts(strategy: CalibrationStrategy)
    /// `separationMidpoint` was asked for but the good and bad scores overlap.
    case setsOverlap(maxGood: Double, minBad: Double)

    public var description: String {
        switch self {
        case .noGoodParts:
            return "No good parts were given; calibration needs the scores of at least one "
                + "good part (20 or more are advised)."
        case let .nonFiniteScore(id, label, value):
            return "The \(label) part '\(id)' has score \(value); expected a finite number. "
                + "Re-score the part or leave it out."
        case let .invalidOption(name, found, expected):
            return "\(name) must be \(expected), got \(found)."
        case let .needsBadParts(strategy):
            return "The strategy '\(strategy.rawValue)' needs scores of bad parts and none "
                + "were given; add bad parts or use 'max_good_plus_margin' or 'good_quantile'."
        case let .setsOverlap(maxGood, minBad):
            return "The strategy 'separation_midpoint' needs every bad score above every good "
                + "score, but the lowest bad score \(minBad) is <= the highest good score "
                + "\(maxGood); use 'youden_j' or 'max_f1'."
        }
    }
}

/// Summary statistics of one set of scores. The standard deviation is the sample one
/// (divisor n - 1) and is 0 for a single score; the median of an even count is the mean of
/// the two middle scores.
public struct ScoreStatistics: Sendable, Equatable {
    public let count: Int
    public let min: Double
    public let max: Double
    public let mean: Double
    public let standardDeviation: Double
    public let median: Double

    /// nil for an empty list.
    public init?(_ scores: [Double]) {
        guard !scores.isEmpty else { return nil }
        let sorted = scores.sorted()
        let n = Double(sorted.count)
        let mean = sorted.reduce(0, +) / n
        let squares = sorted.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        let middle = sorted.count / 2

        count = sorted.count
        min = sorted[0]
        max = sorted[sorted.count - 1]
        self.mean = mean
        standardDeviation = sorted.count > 1 ? (squares / (n - 1)).squareRoot() : 0
        median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}

/// The scores between which the threshold sits. For `maxGoodPlusMargin` it is
/// [max_good, threshold]; for the other strategies it is [highest calibration score below
/// the threshold, lowest calibration score at or above it] (the threshold itself when no score
/// is at or above it): any threshold in (lower, upper] gives every part the same verdict.
public struct ThresholdBand: Sendable, Equatable {
    public let lower: Double
    public let upper: Double
}

/// Verdict errors at a threshold. A false reject is a good part with score >= threshold; a
/// false accept is a bad part with score < threshold. Rates are nil when their set is empty.
public struct ThresholdRates: Sendable, Equatable {
    public let falseRejects: Int
    public let falseAccepts: Int
    public let falseRejectRate: Double
    public let falseAcceptRate: Double?
    /// One-sided Clopper-Pearson upper bound on the false-reject rate at this threshold,
    /// from `falseRejects` of the good parts, at the options' confidence.
    public let falseRejectUpperBound: Double
}

/// How the good and bad scores lie against each other.
public enum SetSeparation: Sendable, Equatable {
    /// No bad parts were given.
    case noBadParts
    /// Every bad score is above every good score: any threshold in (maxGood, minBad] is
    /// perfect on the calibration parts.
    case separated(maxGood: Double, minBad: Double)
    /// Good parts scoring >= min_bad and bad parts scoring <= max_good, in input order.
    case overlapping(good: [PartScore], bad: [PartScore])
}

/// The quantile rule at target rate R, reported with every result for information.
///
/// With n good parts, k = floor(R * n) good parts may be rejected. Sorting the good scores
/// ascending as g[0] ... g[n-1], the threshold lies halfway between g[n-k-1] and the next
/// strictly larger good score, or just above the highest good score (its next representable
/// Double) when none is larger. So at most k good parts fail, fewer when scores tie.
/// The upper bound is the one-sided Clopper-Pearson bound on the false-reject rate at
/// `confidence`, given the observed false rejects among n; with none observed it is
/// 1 - (1 - confidence)^(1/n), about 3/n at 95 %.
public struct QuantileFigures: Sendable, Equatable {
    public let targetFalseRejectRate: Double
    public let allowedRejects: Int
    public let threshold: Double
    public let observedFalseRejects: Int
    public let confidence: Double
    /// Upper bound on the false-reject rate at `threshold`.
    public let falseRejectUpperBound: Double
    /// The smallest upper bound n good parts can show at all (zero observed false rejects).
    public let bestDemonstrableRate: Double
}

/// The outcome of a calibration.
public struct CalibrationResult: Sendable, Equatable {
    public let threshold: Double
    /// The strategy that chose the threshold (never `automatic`).
    public let strategy: CalibrationStrategy
    public let band: ThresholdBand
    public let goodCount: Int
    public let badCount: Int
    public let rates: ThresholdRates
    public let goodStatistics: ScoreStatistics
    public let badStatistics: ScoreStatistics?
    public let separation: SetSeparation
    public let quantile: QuantileFigures
    public let warnings: [String]
    /// Plain key/value facts to store with a bank; see `ThresholdCalibration.provenance`.
    public let provenance: [String: String]
}

/// One point of an ROC curve: the rates when parts scoring >= `threshold` fail.
public struct ROCPoint: Sendable, Equatable {
    public let threshold: Double
    public let falsePositiveRate: Double
    public let truePositiveRate: Double
}
