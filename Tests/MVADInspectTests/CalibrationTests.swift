// Threshold calibration on small recorded score lists whose thresholds, rates and bounds were
// worked out by hand (the Clopper-Pearson bound for 5 of 100 by bisection in Python).

import Foundation
import XCTest
@testable import MVADInspect

final class CalibrationTests: XCTestCase {
    private func parts(_ prefix: String, _ scores: [Double]) -> [PartScore] {
        scores.enumerated().map { PartScore(id: "\(prefix)\($0.offset + 1)", score: $0.element) }
    }

    private func calibrate(good: [Double], bad: [Double] = [],
                           _ strategy: CalibrationStrategy = .automatic)
        throws -> CalibrationResult {
        try ThresholdCalibration.calibrate(good: parts("g", good), bad: parts("b", bad),
                                           options: CalibrationOptions(strategy: strategy))
    }

    // MARK: Good parts only

    func testMaxPlusMarginOnOneToFour() throws {
        let result = try calibrate(good: [1, 2, 3, 4])
        XCTAssertEqual(result.strategy, .maxGoodPlusMargin)
        XCTAssertEqual(result.threshold, 4.2, accuracy: 1e-12)
        XCTAssertGreaterThanOrEqual(result.threshold, 4)
        XCTAssertEqual(result.band, ThresholdBand(lower: 4, upper: result.threshold))
        XCTAssertEqual(result.rates.falseRejects, 0)
        XCTAssertNil(result.rates.falseAcceptRate)
        XCTAssertEqual(result.separation, .noBadParts)
        XCTAssertTrue(result.warnings.contains { $0.contains("Only 4 good parts") })
    }

    func testScoreStatistics() throws {
        let statistics = try XCTUnwrap(ScoreStatistics([4, 1, 3, 2]))
        XCTAssertEqual(statistics.min, 1)
        XCTAssertEqual(statistics.max, 4)
        XCTAssertEqual(statistics.mean, 2.5)
        XCTAssertEqual(statistics.median, 2.5)
        XCTAssertEqual(statistics.standardDeviation, (5.0 / 3).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(ScoreStatistics([7])?.standardDeviation, 0)
        XCTAssertNil(ScoreStatistics([]))
    }

    func testZeroFailureBoundForTwentyParts() throws {
        let bound = ThresholdCalibration.upperBound(failures: 0, trials: 20, alpha: 0.05)
        XCTAssertEqual(bound, 0.1391, accuracy: 1e-4)
        let result = try calibrate(good: (1...20).map(Double.init), .goodQuantile)
        XCTAssertEqual(result.quantile.allowedRejects, 0)
        XCTAssertEqual(result.threshold, Double(20).nextUp)
        XCTAssertEqual(result.rates.falseRejects, 0)
        XCTAssertEqual(result.quantile.bestDemonstrableRate, 0.1391, accuracy: 1e-4)
        // 20 parts cannot show 1 %: about 299 would.
        XCTAssertTrue(result.warnings.contains { $0.contains("13.9 %") && $0.contains("299") })
        XCTAssertFalse(result.warnings.contains { $0.contains("Only") })
    }

    func testQuantileAllowsFloorOfRTimesNRejects() throws {
        let options = CalibrationOptions(strategy: .goodQuantile, targetFalseRejectRate: 0.05)
        let result = try ThresholdCalibration.calibrate(
            good: parts("g", (1...100).map(Double.init)), options: options)
        XCTAssertEqual(result.quantile.allowedRejects, 5)
        XCTAssertEqual(result.threshold, 95.5)
        XCTAssertEqual(result.rates.falseRejects, 5)
        XCTAssertEqual(result.rates.falseRejectRate, 0.05)
        XCTAssertEqual(result.quantile.falseRejectUpperBound, 0.10225, accuracy: 1e-4)
        XCTAssertEqual(result.band, ThresholdBand(lower: 95, upper: 96))
    }

    /// The bound printed and stored with a threshold is the chosen threshold's, not the quantile
    /// rule's: Youden's J here rejects 2 of 4 good parts, and the one-sided 95 % Clopper-Pearson
    /// bound for 2 of 4 is 0.90239 (P(X <= 2 | n = 4, p) = 0.05, solved by bisection in Python).
    func testFalseRejectBoundIsTheChosenThresholds() throws {
        let options = CalibrationOptions(strategy: .youdenJ)
        let result = try ThresholdCalibration.calibrate(
            good: parts("g", [1, 2, 5, 6]), bad: parts("b", [3, 4, 4.5, 4.8, 7]), options: options)
        XCTAssertEqual(result.threshold, 2.5)
        XCTAssertEqual(result.rates.falseRejects, 2)
        XCTAssertEqual(result.rates.falseRejectUpperBound, 0.90239, accuracy: 1e-4)
        XCTAssertEqual(result.provenance["false_reject_upper_bound"].flatMap(Double.init) ?? 0,
                       0.90239, accuracy: 1e-4)
        // The quantile rule's own figure (no reject above the highest good score) stays apart.
        XCTAssertEqual(result.quantile.observedFalseRejects, 0)
        XCTAssertEqual(result.provenance["quantile_false_reject_upper_bound"].flatMap(Double.init)
                       ?? 0, 1 - pow(0.05, 0.25), accuracy: 1e-9)
    }

    func testQuantileWithTiedTopScoresRejectsFewer() throws {
        let options = CalibrationOptions(strategy: .goodQuantile, targetFalseRejectRate: 0.2)
        let result = try ThresholdCalibration.calibrate(good: parts("g", [1, 2, 3, 3, 3]),
                                                        options: options)
        XCTAssertEqual(result.quantile.allowedRejects, 1)
        XCTAssertEqual(result.threshold, Double(3).nextUp)
        XCTAssertEqual(result.quantile.observedFalseRejects, 0)
    }

    func testSingleGoodPart() throws {
        let result = try calibrate(good: [2])
        XCTAssertEqual(result.threshold, 2.1, accuracy: 1e-12)
        XCTAssertEqual(result.goodStatistics.standardDeviation, 0)
        XCTAssertEqual(result.quantile.bestDemonstrableRate, 0.95, accuracy: 1e-12)
        XCTAssertTrue(result.warnings.contains { $0.contains("Only one good part") })
    }

    func testAllEqualScores() throws {
        let result = try calibrate(good: Array(repeating: 0.5, count: 25))
        XCTAssertEqual(result.threshold, 0.525, accuracy: 1e-12)
        XCTAssertTrue(result.warnings.contains { $0.contains("same score") })

        let zeros = try calibrate(good: Array(repeating: 0, count: 25))
        XCTAssertGreaterThan(zeros.threshold, 0)
        XCTAssertEqual(zeros.rates.falseRejects, 0)
    }

    // MARK: Good and bad parts

    func testOverlapWithTiesPicksYoudenAndListsParts() throws {
        // Candidates 1, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7+: J peaks at 5.5 (2/3), F1 too (0.8).
        let result = try calibrate(good: [1, 2, 3, 4, 5], bad: [4, 6, 7])
        XCTAssertEqual(result.strategy, .youdenJ)
        XCTAssertEqual(result.threshold, 5.5)
        XCTAssertEqual(result.rates.falseRejects, 0)
        XCTAssertEqual(result.rates.falseAccepts, 1)
        XCTAssertEqual(try XCTUnwrap(result.rates.falseAcceptRate), 1.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(result.band, ThresholdBand(lower: 5, upper: 6))
        XCTAssertEqual(result.separation, .overlapping(
            good: [PartScore(id: "g4", score: 4), PartScore(id: "g5", score: 5)],
            bad: [PartScore(id: "b1", score: 4)]))
        XCTAssertTrue(result.warnings.contains { $0.contains("g4 (4), g5 (5)") })
        XCTAssertEqual(try calibrate(good: [1, 2, 3, 4, 5], bad: [4, 6, 7], .maxF1).threshold, 5.5)
    }

    func testYoudenTieGoesToHigherThresholdAndF1Differs() throws {
        // J: 0, 0.5, 0, 0.5, 0 at 1, 1.5, 2.5, 3.5, 4+; F1: 2/3, 0.8, 0.5, 2/3, 0.
        let youden = try calibrate(good: [1, 3], bad: [2, 4], .youdenJ)
        XCTAssertEqual(youden.threshold, 3.5)
        XCTAssertEqual(youden.rates.falseAccepts, 1)
        XCTAssertEqual(youden.rates.falseRejects, 0)
        let f1 = try calibrate(good: [1, 3], bad: [2, 4], .maxF1)
        XCTAssertEqual(f1.threshold, 1.5)
        XCTAssertEqual(f1.rates.falseRejects, 1)
        XCTAssertEqual(f1.rates.falseAccepts, 0)
    }

    func testGoodAndBadPartWithTheSameScore() throws {
        // J: 0, 1/3, 2/3, 1/2 at 1, 1.5, 2.5, 4; the good and bad parts at 3 cannot be split.
        let result = try calibrate(good: [1, 2, 3], bad: [3, 5])
        XCTAssertEqual(result.strategy, .youdenJ)
        XCTAssertEqual(result.threshold, 2.5)
        XCTAssertEqual(result.rates.falseRejects, 1)
        XCTAssertEqual(result.rates.falseAccepts, 0)
        XCTAssertEqual(result.separation, .overlapping(good: [PartScore(id: "g3", score: 3)],
                                                       bad: [PartScore(id: "b1", score: 3)]))
    }

    func testPerfectlySeparatedSetsUseTheMidpoint() throws {
        let result = try calibrate(good: [1, 2, 3], bad: [5, 6])
        XCTAssertEqual(result.strategy, .separationMidpoint)
        XCTAssertEqual(result.threshold, 4)
        XCTAssertEqual(result.separation, .separated(maxGood: 3, minBad: 5))
        XCTAssertEqual(result.band, ThresholdBand(lower: 3, upper: 5))
        XCTAssertEqual(result.rates.falseAccepts, 0)
        XCTAssertEqual(result.rates.falseAcceptRate, 0)
        XCTAssertEqual(result.rates.falseRejects, 0)
        XCTAssertFalse(result.warnings.contains { $0.contains("overlap") })
        XCTAssertEqual(try calibrate(good: [1, 2, 3], bad: [5, 6], .youdenJ).threshold, 4)

        // Adjacent Doubles have no midpoint between them: the bad score itself is the threshold.
        let tight = try calibrate(good: [1], bad: [Double(1).nextUp])
        XCTAssertEqual(tight.threshold, Double(1).nextUp)
        XCTAssertEqual(tight.rates.falseRejects + tight.rates.falseAccepts, 0)
    }

    func testFullyOverlappingSets() throws {
        // J is 0 everywhere, so the tie rule picks the top candidate; F1 peaks at 1 (2/3).
        let youden = try calibrate(good: [1, 2, 3], bad: [1, 2, 3])
        XCTAssertEqual(youden.strategy, .youdenJ)
        XCTAssertEqual(youden.threshold, Double(3).nextUp)
        XCTAssertEqual(youden.rates.falseAcceptRate, 1)
        XCTAssertEqual(youden.rates.falseRejects, 0)
        guard case let .overlapping(good, bad) = youden.separation else { return XCTFail() }
        XCTAssertEqual(good.count, 3)
        XCTAssertEqual(bad.count, 3)
        XCTAssertEqual(try calibrate(good: [1, 2, 3], bad: [1, 2, 3], .maxF1).threshold, 1)
    }

    // MARK: Errors

    func testNonFiniteScoresAreRefusedByPartId() {
        let good = [PartScore(id: "p1", score: 1), PartScore(id: "p7", score: .nan)]
        XCTAssertThrowsError(try ThresholdCalibration.calibrate(good: good)) { error in
            guard case let .nonFiniteScore(id, label, value) = error as? CalibrationError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(id, "p7")
            XCTAssertEqual(label, "good")
            XCTAssertTrue(value.isNaN)
            XCTAssertTrue("\(error)".contains("'p7'"))
        }
        let bad = [PartScore(id: "b9", score: .infinity)]
        XCTAssertThrowsError(try ThresholdCalibration.calibrate(good: parts("g", [1]), bad: bad)) {
            XCTAssertEqual($0 as? CalibrationError,
                           .nonFiniteScore(id: "b9", label: "bad", value: .infinity))
        }
    }

    func testOtherRefusals() {
        XCTAssertThrowsError(try calibrate(good: [])) {
            XCTAssertEqual($0 as? CalibrationError, .noGoodParts)
        }
        XCTAssertThrowsError(try calibrate(good: [1, 2], .youdenJ)) {
            XCTAssertEqual($0 as? CalibrationError, .needsBadParts(strategy: .youdenJ))
        }
        XCTAssertThrowsError(try calibrate(good: [1, 3], bad: [2], .separationMidpoint)) {
            XCTAssertEqual($0 as? CalibrationError, .setsOverlap(maxGood: 3, minBad: 2))
        }
        for margin in [-0.1, 1.5, 1e9] {
            let options = CalibrationOptions(margin: margin)
            XCTAssertThrowsError(try ThresholdCalibration.calibrate(good: parts("g", [1]),
                                                                    options: options)) {
                XCTAssertTrue("\($0)".contains("margin must be a fraction in [0, 1], got \(margin)"),
                              "\($0)")
            }
        }
        XCTAssertEqual(try ThresholdCalibration.calibrate(
            good: parts("g", [2]), options: CalibrationOptions(margin: 1)).threshold, 4)
    }

    // MARK: Exports

    func testPartsCSV() {
        let good = [PartScore(id: "a", score: 1), PartScore(id: "b,\"c\"", score: 3)]
        let csv = ThresholdCalibration.partsCSV(good: good, bad: [PartScore(id: "d", score: 2)],
                                                threshold: 2.5)
        let expected = ["id,label,score,verdict", "a,good,1.0,pass",
                        #""b,""c""",good,3.0,fail"#, "d,bad,2.0,pass"]
        XCTAssertEqual(csv, expected.joined(separator: "\n") + "\n")
    }

    func testROCCurve() throws {
        let curve = try ThresholdCalibration.rocCurve(good: parts("g", [1, 3]),
                                                      bad: parts("b", [2, 4]))
        XCTAssertEqual(curve.map(\.threshold), [Double(4).nextUp, 3.5, 2.5, 1.5, 1])
        XCTAssertEqual(curve.map(\.falsePositiveRate), [0, 0, 0.5, 0.5, 1])
        XCTAssertEqual(curve.map(\.truePositiveRate), [0, 0.5, 0.5, 1, 1])
        XCTAssertThrowsError(try ThresholdCalibration.rocCurve(good: parts("g", [1]), bad: []))
    }

    func testProvenance() throws {
        let result = try ThresholdCalibration.calibrate(
            good: parts("g", [1, 2, 3]), bad: parts("b", [5, 6]),
            date: Date(timeIntervalSince1970: 0))
        let facts = result.provenance
        XCTAssertEqual(facts["calibration_date"], "1970-01-01T00:00:00Z")
        XCTAssertEqual(facts["strategy"], "separation_midpoint")
        XCTAssertEqual(facts["requested_strategy"], "automatic")
        XCTAssertEqual(facts["threshold"], "4.0")
        XCTAssertEqual(facts["good_count"], "3")
        XCTAssertEqual(facts["bad_count"], "2")
        XCTAssertEqual(facts["margin"], "0.05")
        XCTAssertEqual(facts["good_median"], "2.0")
        XCTAssertEqual(facts["bad_mean"], "5.5")
        XCTAssertEqual(facts["false_accept_rate"], "0.0")
    }
}
