// Tests of the metrics: AUROC against sklearn (ties, all-equal scores), pixel AUROC, AUPRO and
// region labelling against the Python reference and scipy, and AUPRO cases computed by hand.

import XCTest
import MVADEngine
@testable import MVADInspect

final class MetricTests: XCTestCase {
    /// AUROC and AUPRO must equal the references to this absolute limit (Double).
    private let exactLimit = 1e-12

    func testAUROCMatchesSklearn() throws {
        let cases: [[String: Any]] = try ScoringFixtures.value(ScoringFixtures.metrics(), "auroc")
        XCTAssertGreaterThanOrEqual(cases.count, 7)
        for item in cases {
            let name: String = try ScoringFixtures.value(item, "name")
            let scores = try ScoringFixtures.doubles(item["scores"])
            let labels = try ScoringFixtures.doubles(item["labels"]).map { $0 > 0.5 }
            let expected: Double = try ScoringFixtures.value(item, "expected")
            let value = try Metrics.auroc(scores: scores, labels: labels)
            XCTAssertEqual(value, expected, accuracy: exactLimit, name)
            let asFloat = try Metrics.auroc(scores: scores.map(Float.init), labels: labels)
            if scores.allSatisfy({ Double(Float($0)) == $0 }) {
                XCTAssertEqual(asFloat, expected, accuracy: exactLimit, "\(name) as Float")
            }
        }
    }

    func testAUROCEdgeCases() throws {
        XCTAssertEqual(try Metrics.auroc(scores: [1, 1, 1, 1], labels: [true, false, true, false]),
                       0.5)
        XCTAssertEqual(try Metrics.auroc(scores: [0, 1, 1, 2], labels: [false, true, false, true]),
                       0.875)
        XCTAssertThrowsError(try Metrics.auroc(scores: [1, 2], labels: [true, true])) {
            XCTAssertEqual($0 as? ScoringError, .undefinedMetric(
                metric: "AUROC", reason: "there is no normal sample; both classes are needed"))
        }
        XCTAssertThrowsError(try Metrics.auroc(scores: [1, 2, 3], labels: [true, false]))
        XCTAssertThrowsError(try Metrics.auroc(scores: [1, .nan], labels: [true, false]))
    }

    func testAUPROAndPixelAUROCMatchReference() throws {
        let cases: [[String: Any]] = try ScoringFixtures.value(ScoringFixtures.metrics(), "aupro")
        XCTAssertEqual(cases.count, 3)
        for item in cases {
            let name: String = try ScoringFixtures.value(item, "name")
            let (maps, masks) = try Self.mapsAndMasks(item)
            let maxFPRs = try ScoringFixtures.doubles(item["max_fprs"])
            let expected = try ScoringFixtures.doubles(item["expected_aupro"])
            for (limit, value) in zip(maxFPRs, expected) {
                let aupro = try Metrics.aupro(
                    scoreMaps: maps, masks: masks, maxFalsePositiveRate: limit)
                XCTAssertEqual(aupro, value, accuracy: exactLimit, "\(name) AUPRO @ \(limit)")
            }
            let pixel: Double = try ScoringFixtures.value(item, "expected_pixel_auroc")
            XCTAssertEqual(try Metrics.pixelAUROC(scoreMaps: maps, masks: masks), pixel,
                           accuracy: exactLimit, "\(name) pixel AUROC")
            let points: Int = try ScoringFixtures.value(item, "curve_points")
            XCTAssertEqual(try Metrics.proCurve(scoreMaps: maps, masks: masks).count, points, name)
        }
    }

    func testRegionsMatchScipyLabel() throws {
        let cases: [[String: Any]] = try ScoringFixtures.value(ScoringFixtures.metrics(), "aupro")
        for item in cases {
            let (_, masks) = try Self.mapsAndMasks(item)
            let labels: [[Int]] = try ScoringFixtures.value(item, "labels")
            for (mask, expected) in zip(masks, labels) {
                let regions = ConnectedRegions(
                    mask: mask.scalars.map { $0 > 0.5 }, height: mask.shape[0],
                    width: mask.shape[1])
                XCTAssertEqual(regions.labels.map(Int.init), expected)
                XCTAssertEqual(regions.count, expected.max() ?? 0)
            }
        }
        // A diagonal line is one region under 8-connectivity.
        let diagonal = ConnectedRegions(
            mask: [true, false, false, false, true, false, false, false, true], height: 3, width: 3)
        XCTAssertEqual(diagonal.sizes, [3])
    }

    /// One 4 x 4 image; the region is the top-left 2 x 2 square, the 12 normal pixels score
    /// 12, 11, ..., 1 (FPR steps of 1/12).
    private func handMadeImage(regionScores: [Float]) -> (Tensor, Tensor) {
        var scores = [Float](repeating: 0, count: 16)
        var mask = [Float](repeating: 0, count: 16)
        let region = [0, 1, 4, 5]
        for (pixel, score) in zip(region, regionScores) {
            (scores[pixel], mask[pixel]) = (score, 1)
        }
        var normal: Float = 12
        for pixel in 0..<16 where mask[pixel] == 0 {
            scores[pixel] = normal
            normal -= 1
        }
        return (Tensor(shape: [4, 4], scalars: scores), Tensor(shape: [4, 4], scalars: mask))
    }

    func testHandComputedStepAUPRO() throws {
        // All region pixels score 10.5: PRO jumps from 0 to 1 at FPR 2/12 and stays 1.
        // Area up to 0.3 = (0.3 - 1/6) * 1 = 2/15; AUPRO = (2/15) / 0.3 = 4/9.
        let (map, mask) = handMadeImage(regionScores: [10.5, 10.5, 10.5, 10.5])
        let aupro = try Metrics.aupro(scoreMaps: [map], masks: [mask])
        XCTAssertEqual(aupro, 4.0 / 9.0, accuracy: exactLimit)
    }

    func testHandComputedAUPROWithTieAndCut() throws {
        // Region scores 11 (tied with a normal pixel), 5.5, 3.5, 0. Curve: (0, 0), (1/12, 0)
        // after 12, then the tied group 11 moves diagonally to (2/12, 1/4); PRO stays 1/4 up to
        // FPR 4/12, past 0.3. Area = 1/12 * 1/8 + (0.3 - 2/12) * 1/4 = 1/96 + 1/30 = 7/160,
        // AUPRO = (7/160) / 0.3 = 7/48.
        let (map, mask) = handMadeImage(regionScores: [11, 5.5, 3.5, 0])
        XCTAssertEqual(try Metrics.aupro(scoreMaps: [map], masks: [mask]), 7.0 / 48.0,
                       accuracy: exactLimit)
        // Cut inside the diagonal at FPR 0.125: PRO there is 1/8, area = (1/24) * (1/16) / 1
        // = 1/384; AUPRO = (1/384) / 0.125 = 1/48.
        XCTAssertEqual(
            try Metrics.aupro(scoreMaps: [map], masks: [mask], maxFalsePositiveRate: 0.125),
            1.0 / 48.0, accuracy: exactLimit)

        let curve = try Metrics.proCurve(scoreMaps: [map], masks: [mask], upTo: 0.3)
        XCTAssertEqual(curve.map(\.falsePositiveRate), [0, 1, 2, 3, 4].map { $0 / 12.0 })
        XCTAssertEqual(curve.map(\.overlap), [0, 0, 0.25, 0.25, 0.25])
    }

    func testAUPRORefusals() throws {
        let map = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
        XCTAssertThrowsError(try Metrics.aupro(scoreMaps: [map], masks: [Tensor(zeros: [2, 2])])) {
            XCTAssertEqual($0 as? ScoringError, .undefinedMetric(
                metric: "AUPRO", reason: "the masks hold no anomalous region; both are needed"))
        }
        XCTAssertThrowsError(try Metrics.aupro(scoreMaps: [map], masks: [Tensor(zeros: [4])]))
        XCTAssertThrowsError(try Metrics.aupro(
            scoreMaps: [map], masks: [Tensor(shape: [2, 2], repeating: 1)]))
        XCTAssertThrowsError(try Metrics.aupro(
            scoreMaps: [map], masks: [Tensor(shape: [2, 2], scalars: [1, 0, 0, 0])],
            maxFalsePositiveRate: 0))
    }

    func testLargePixelAUROCMatchesHistogramCount() throws {
        // 16 images of 256 x 256 with scores on 200 levels: an exact Mann-Whitney count from a
        // histogram must equal the sorted computation.
        var random = ScoringRandom(seed: 97)
        var maps: [Tensor] = []
        var masks: [Tensor] = []
        var positives = [Int](repeating: 0, count: 200)
        var negatives = [Int](repeating: 0, count: 200)
        for _ in 0..<16 {
            var scores = [Float](repeating: 0, count: 256 * 256)
            var mask = [Float](repeating: 0, count: 256 * 256)
            for i in 0..<scores.count {
                let anomalous = random.uniform() < 0.05
                let level = min(199, Int((random.uniform() + (anomalous ? 0.3 : 0)) * 150))
                scores[i] = Float(level) * 0.25
                mask[i] = anomalous ? 1 : 0
                if anomalous { positives[level] += 1 } else { negatives[level] += 1 }
            }
            maps.append(Tensor(shape: [256, 256], scalars: scores))
            masks.append(Tensor(shape: [256, 256], scalars: mask))
        }
        var twiceU = 0
        var below = 0
        for level in 0..<200 {
            twiceU += positives[level] * (2 * below + negatives[level])
            below += negatives[level]
        }
        let expected = Double(twiceU)
            / (2 * Double(positives.reduce(0, +)) * Double(negatives.reduce(0, +)))
        XCTAssertEqual(try Metrics.pixelAUROC(scoreMaps: maps, masks: masks), expected)
        XCTAssertNoThrow(try Metrics.aupro(scoreMaps: maps, masks: masks))
    }

    /// The maps and 0/1 masks [H, W] of one AUPRO fixture case.
    private static func mapsAndMasks(_ item: [String: Any]) throws -> ([Tensor], [Tensor]) {
        let height: Int = try ScoringFixtures.value(item, "height")
        let width: Int = try ScoringFixtures.value(item, "width")
        let maps: [Any] = try ScoringFixtures.value(item, "maps")
        let masks: [Any] = try ScoringFixtures.value(item, "masks")
        func image(_ values: Any) throws -> Tensor {
            let scalars = try ScoringFixtures.doubles(values).map(Float.init)
            return Tensor(shape: [height, width], scalars: scalars)
        }
        return (try maps.map(image), try masks.map(image))
    }
}
