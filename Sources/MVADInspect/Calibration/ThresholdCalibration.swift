// ThresholdCalibration: turns the image scores of sample good parts (and optionally bad
// parts) into a pass/fail threshold, with the rates, statistics and warnings that explain it.

import Foundation

/// Chooses a threshold from calibration scores. A part fails when its score is >= threshold.
public enum ThresholdCalibration {
    /// Fewer good parts than this draw a warning.
    public static let advisedGoodCount = 20

    /// Calibrates a threshold. Throws when no good part is given, a score is NaN or infinite,
    /// an option is out of range, or a forced strategy cannot apply to these sets.
    public static func calibrate(good: [PartScore], bad: [PartScore] = [],
                                 options: CalibrationOptions = CalibrationOptions(),
                                 date: Date = Date()) throws -> CalibrationResult {
        try check(options)
        guard !good.isEmpty else { throw CalibrationError.noGoodParts }
        try checkFinite(good, label: "good")
        try checkFinite(bad, label: "bad")

        let goodScores = good.map(\.score)
        let badScores = bad.map(\.score)
        let separation = separationOf(good: good, bad: bad)
        let quantile = quantileFigures(goodScores, options: options)
        let strategy = try resolved(options.strategy, separation: separation,
                                    maxGood: goodScores.max() ?? 0, minBad: badScores.min() ?? 0)

        let threshold: Double
        switch strategy {
        case .maxGoodPlusMargin: threshold = maxPlusMargin(goodScores, margin: options.margin)
        case .goodQuantile: threshold = quantile.threshold
        case .maxF1: threshold = bestThreshold(good: goodScores, bad: badScores, by: f1)
        case .youdenJ: threshold = bestThreshold(good: goodScores, bad: badScores, by: youden)
        case .separationMidpoint:
            guard case let .separated(maxGood, minBad) = separation else {
                preconditionFailure("resolved() only picks the midpoint for separated sets")
            }
            threshold = midpoint(maxGood, minBad)
        case .automatic: preconditionFailure("resolved() never returns automatic")
        }

        let band = bandAround(threshold, strategy: strategy, good: goodScores, bad: badScores)
        let rates = ratesAt(threshold, good: goodScores, bad: badScores,
                            confidence: options.confidence)
        guard let goodStatistics = ScoreStatistics(goodScores) else {
            preconditionFailure("good scores were checked to be non-empty")
        }
        let badStatistics = ScoreStatistics(badScores)
        let warnings = warningsFor(good: good, separation: separation, quantile: quantile)

        var result = CalibrationResult(
            threshold: threshold, strategy: strategy, band: band, goodCount: good.count,
            badCount: bad.count, rates: rates, goodStatistics: goodStatistics,
            badStatistics: badStatistics, separation: separation, quantile: quantile,
            warnings: warnings, provenance: [:])
        result = result.with(provenance: provenance(of: result, options: options, date: date))
        return result
    }

    // MARK: Checks

    /// Throws `invalidOption` for an option outside its range; `calibrate` checks the same.
    public static func check(_ options: CalibrationOptions) throws {
        // A margin is a fraction of the highest good score; above 1 the threshold would be
        // more than twice any good score, which passes nearly everything.
        guard options.margin.isFinite, options.margin >= 0, options.margin <= 1 else {
            throw CalibrationError.invalidOption(
                name: "margin", found: "\(options.margin)", expected: "a fraction in [0, 1]")
        }
        let rate = options.targetFalseRejectRate
        guard rate > 0, rate < 1 else {
            throw CalibrationError.invalidOption(
                name: "target false-reject rate", found: "\(rate)", expected: "in (0, 1)")
        }
        guard options.confidence > 0, options.confidence < 1 else {
            throw CalibrationError.invalidOption(
                name: "confidence", found: "\(options.confidence)", expected: "in (0, 1)")
        }
    }

    private static func checkFinite(_ parts: [PartScore], label: String) throws {
        if let part = parts.first(where: { !$0.score.isFinite }) {
            throw CalibrationError.nonFiniteScore(id: part.id, label: label, value: part.score)
        }
    }

    private static func resolved(_ strategy: CalibrationStrategy, separation: SetSeparation,
                                 maxGood: Double, minBad: Double) throws -> CalibrationStrategy {
        switch (strategy, separation) {
        case (.automatic, .noBadParts): return .maxGoodPlusMargin
        case (.automatic, .separated): return .separationMidpoint
        case (.automatic, .overlapping): return .youdenJ
        case (.maxF1, .noBadParts), (.youdenJ, .noBadParts), (.separationMidpoint, .noBadParts):
            throw CalibrationError.needsBadParts(strategy: strategy)
        case (.separationMidpoint, .overlapping):
            throw CalibrationError.setsOverlap(maxGood: maxGood, minBad: minBad)
        default: return strategy
        }
    }

    // MARK: Good-only strategies

    /// max_good + margin * |max_good|; when that is not above max_good (margin 0 or a highest
    /// score of 0) the next representable Double above it, so no good part ever fails.
    static func maxPlusMargin(_ scores: [Double], margin: Double) -> Double {
        let highest = scores.max() ?? 0
        let raised = highest + margin * abs(highest)
        return raised > highest ? raised : highest.nextUp
    }

    static func quantileFigures(_ scores: [Double],
                                options: CalibrationOptions) -> QuantileFigures {
        let sorted = scores.sorted()
        let n = sorted.count
        // The small tolerance keeps R * n = 1 from flooring to 0 through rounding.
        let product = options.targetFalseRejectRate * Double(n) + 1e-9
        let allowed = min(n - 1, Int(product.rounded(.down)))
        let lastPassing = sorted[n - allowed - 1]
        let threshold: Double
        if let next = sorted.first(where: { $0 > lastPassing }) {
            threshold = midpoint(lastPassing, next)
        } else {
            threshold = lastPassing.nextUp
        }
        let rejects = sorted.filter { $0 >= threshold }.count
        let alpha = 1 - options.confidence
        return QuantileFigures(
            targetFalseRejectRate: options.targetFalseRejectRate, allowedRejects: allowed,
            threshold: threshold, observedFalseRejects: rejects, confidence: options.confidence,
            falseRejectUpperBound: upperBound(failures: rejects, trials: n, alpha: alpha),
            bestDemonstrableRate: upperBound(failures: 0, trials: n, alpha: alpha))
    }

    // MARK: Sets, band, rates

    static func separationOf(good: [PartScore], bad: [PartScore]) -> SetSeparation {
        guard let minBad = bad.map(\.score).min() else { return .noBadParts }
        let maxGood = good.map(\.score).max() ?? -.infinity
        if minBad > maxGood { return .separated(maxGood: maxGood, minBad: minBad) }
        return .overlapping(good: good.filter { $0.score >= minBad },
                            bad: bad.filter { $0.score <= maxGood })
    }

    static func ratesAt(_ threshold: Double, good: [Double], bad: [Double],
                        confidence: Double) -> ThresholdRates {
        let rejects = good.filter { $0 >= threshold }.count
        let accepts = bad.filter { $0 < threshold }.count
        return ThresholdRates(
            falseRejects: rejects, falseAccepts: accepts,
            falseRejectRate: Double(rejects) / Double(max(good.count, 1)),
            falseAcceptRate: bad.isEmpty ? nil : Double(accepts) / Double(bad.count),
            falseRejectUpperBound: good.isEmpty ? 1
                : upperBound(failures: rejects, trials: good.count, alpha: 1 - confidence))
    }

    private static func bandAround(_ threshold: Double, strategy: CalibrationStrategy,
                                   good: [Double], bad: [Double]) -> ThresholdBand {
        if strategy == .maxGoodPlusMargin {
            return ThresholdBand(lower: good.max() ?? threshold, upper: threshold)
        }
        let all = good + bad
        let below = all.filter { $0 < threshold }.max() ?? threshold
        let above = all.filter { $0 >= threshold }.min() ?? threshold
        return ThresholdBand(lower: below, upper: above)
    }

    // MARK: Warnings

    private static func warningsFor(good: [PartScore], separation: SetSeparation,
                                    quantile: QuantileFigures) -> [String] {
        var warnings: [String] = []
        let n = good.count
        if n == 1 {
            warnings.append("Only one good part was given: the threshold rests on a single "
                + "score and says nothing about the spread of good parts.")
        } else if n < advisedGoodCount {
            warnings.append("Only \(n) good parts were given; \(advisedGoodCount) or more are "
                + "advised for a threshold that holds on new parts.")
        }
        if n > 1, Set(good.map(\.score)).count == 1 {
            warnings.append("All \(n) good parts have the same score \(good[0].score); the "
                + "spread of good parts is unknown.")
        }
        if quantile.bestDemonstrableRate > quantile.targetFalseRejectRate {
            warnings.append("With \(n) good parts the false-reject rate can only be shown to "
                + "be below \(percent(quantile.bestDemonstrableRate)) at "
                + "\(percent(quantile.confidence)) confidence, not the target "
                + "\(percent(quantile.targetFalseRejectRate)); about "
                + "\(partsNeeded(quantile)) good parts with no false reject would show it.")
        }
        if case let .overlapping(goodParts, badParts) = separation {
            warnings.append("Good and bad scores overlap: good parts "
                + list(goodParts) + " score at or above the lowest bad score, and bad parts "
                + list(badParts) + " score at or below the highest good score; "
                + "no threshold separates them.")
        }
        return warnings
    }

    private static func list(_ parts: [PartScore]) -> String {
        parts.map { "\($0.id) (" + String(format: "%.4g", $0.score) + ")" }.joined(separator: ", ")
    }

    static func percent(_ rate: Double) -> String {
        String(format: "%.1f %%", rate * 100)
    }

    /// The smallest n with 1 - (1 - confidence)^(1/n) <= R.
    private static func partsNeeded(_ quantile: QuantileFigures) -> Int {
        let alpha = 1 - quantile.confidence
        return Int((log(alpha) / log(1 - quantile.targetFalseRejectRate)).rounded(.up))
    }
}

extension CalibrationResult {
    fileprivate func with(provenance: [String: String]) -> CalibrationResult {
        CalibrationResult(
            threshold: threshold, strategy: strategy, band: band, goodCount: goodCount,
            badCount: badCount, rates: rates, goodStatistics: goodStatistics,
            badStatistics: badStatistics, separation: separation, quantile: quantile,
            warnings: warnings, provenance: provenance)
    }
}
