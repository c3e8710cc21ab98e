// Tests of the score maps: bilinear upsampling against torch, Gaussian blur against scipy, the
// top-k image score, fusion, and a whole part scored with 1, 2 and 4 threads.

import XCTest
import MVADEngine
@testable import MVADInspect

final class ScoringMapTests: XCTestCase {
    func testBilinearMatchesTorch() throws {
        let fixture = try ScoringFixtures.safetensors("filters.safetensors")
        for (name, height, width) in [("up_a", 64, 64), ("up_b", 30, 19)] {
            let output = try ScoreMapFilters.bilinearResize(
                fixture.tensor("\(name)_in"), height: height, width: width)
            ScoringFixtures.assertMap(output, try fixture.tensor("\(name)_out"), name)
        }

        // 32 -> 256, the method's sizes; the fixture keeps a few output rows.
        let full = try ScoreMapFilters.bilinearResize(
            fixture.tensor("up_c_in"), height: 256, width: 256)
        let rows = try fixture.tensor("up_c_rows").scalars.map { Int($0) }
        var picked: [Float] = []
        for row in rows { picked += full.scalars[(row * 256)..<((row + 1) * 256)] }
        ScoringFixtures.assertMap(
            Tensor(shape: [rows.count, 256], scalars: picked),
            try fixture.tensor("up_c_out_rows"), "up_c rows")
    }

    func testGaussianBlurMatchesScipy() throws {
        let fixture = try ScoringFixtures.safetensors("filters.safetensors")
        for name in ["blur_a", "blur_b", "blur_c"] {
            let sigma = try XCTUnwrap(fixture.metadata["\(name)_sigma"].flatMap(Double.init))
            let input = try fixture.tensor("\(name)_in")
            let output = try ScoreMapFilters.gaussianBlur(input, sigma: sigma)
            ScoringFixtures.assertMap(output, try fixture.tensor("\(name)_out"), name)
        }
    }

    func testPixelMapMatchesTorchThenScipy() throws {
        let fixture = try ScoringFixtures.safetensors("filters.safetensors")
        let output = try AnomalyScores.pixelMap(
            gridMap: fixture.tensor("pipe_in"), imageSize: 64, sigma: 4)
        ScoringFixtures.assertMap(output, try fixture.tensor("pipe_out"), "pixel map")
    }

    func testGaussianDetails() throws {
        XCTAssertEqual(ScoreMapFilters.gaussianRadius(sigma: 4), 16)
        XCTAssertEqual(ScoreMapFilters.gaussianRadius(sigma: 2.5), 10)
        // Half-sample symmetric: -1 -> 0, -2 -> 1, n -> n - 1, and again past 2n.
        let reflected = (-5..<9).map { ScoreMapFilters.reflect($0, length: 3) }
        XCTAssertEqual(reflected, [1, 2, 2, 1, 0, 0, 1, 2, 2, 1, 0, 0, 1, 2])
        let weights = ScoreMapFilters.gaussianWeights(sigma: 4, radius: 16)
        XCTAssertEqual(weights.reduce(0, +), 1, accuracy: 1e-15)
        // sigma 0 leaves the map unchanged, a constant map stays constant.
        let map = Tensor(shape: [3, 4], scalars: (0..<12).map(Float.init))
        XCTAssertEqual(try ScoreMapFilters.gaussianBlur(map, sigma: 0), map)
        let constant = try ScoreMapFilters.gaussianBlur(
            Tensor(shape: [5, 5], repeating: 2), sigma: 4)
        XCTAssertTrue(constant.scalars.allSatisfy { abs($0 - 2) < 1e-6 })
    }

    func testTopKImageScoreMatchesTorch() throws {
        let metrics = try ScoringFixtures.metrics()
        let topk: [String: Any] = try ScoringFixtures.value(metrics, "topk")
        let grid = try ScoringFixtures.doubles(topk["grid"]).map(Float.init)
        let size: Int = try ScoringFixtures.value(topk, "size")
        let k: Int = try ScoringFixtures.value(topk, "k")
        let expected: Double = try ScoringFixtures.value(topk, "expected")
        let map = try AnomalyScores.gridMap(distances: grid, gridSize: size)
        let score = try AnomalyScores.imageScore(gridMap: map, topK: k)
        XCTAssertEqual(score, expected, accuracy: 1e-6 * expected)
        XCTAssertEqual(try AnomalyScores.imageScore(gridMap: map, topK: 1), 1.5)
        XCTAssertThrowsError(try AnomalyScores.imageScore(gridMap: map, topK: 37))
    }

    func testFusion() throws {
        XCTAssertEqual(AnomalyScores.fusedImageScore(rgb: 2, normals: 3), 5)
        XCTAssertEqual(
            AnomalyScores.fusedImageScore(rgb: 2, normals: 3, rgbWeight: 0.5, normalsWeight: 2), 7)
        XCTAssertEqual(AnomalyScores.fusedImageScore(rgb: nil, normals: 3), 3)
        let a = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
        let b = Tensor(shape: [2, 2], scalars: [10, 20, 30, 40])
        XCTAssertEqual(try AnomalyScores.fusedPixelMap([a, b]).scalars, [11, 22, 33, 44])
        XCTAssertThrowsError(try AnomalyScores.fusedPixelMap([a, Tensor(zeros: [4])]))
    }

    func testScorerIsBitIdenticalForOneTwoAndFourThreads() throws {
        var random = ScoringRandom(seed: 53)
        let settings = ["grid": "8", "image_size": "64"]
        var rgb = try MemoryBank(modality: .rgb, channels: 6, settings: settings)
        var normals = try MemoryBank(modality: .normals, channels: 6, settings: settings)
        for _ in 0..<5 {
            try rgb.append(features: random.tensor([6, 8, 8]))
            try normals.append(features: random.tensor([6, 8, 8]))
        }
        var options = ScoringOptions()
        options.imageSize = 64
        let scorer = try AnomalyScorer(
            banks: BankFile(banks: [rgb, normals]), expectedSettings: settings, options: options)
        let features: [MemoryBank.Modality: Tensor] = [
            .rgb: random.tensor([6, 8, 8]), .normals: random.tensor([6, 8, 8]),
        ]

        let one = try scorer.score(features, compute: Compute(threads: 1))
        for threads in [2, 4] {
            let other = try scorer.score(features, compute: Compute(threads: threads))
            XCTAssertEqual(other, one, "\(threads) threads")
            XCTAssertEqual(other.pixelMap.scalars.map(\.bitPattern),
                           one.pixelMap.scalars.map(\.bitPattern))
        }

        // The pieces agree with the step-by-step functions.
        let rgbScores = try XCTUnwrap(one.modalities[.rgb])
        XCTAssertEqual(rgbScores.gridMap.shape, [8, 8])
        XCTAssertEqual(rgbScores.pixelMap.shape, [64, 64])
        let normalsScore = try XCTUnwrap(one.modalities[.normals]?.imageScore)
        XCTAssertEqual(one.imageScore, rgbScores.imageScore + normalsScore)
        let rgbFeatures = try XCTUnwrap(features[.rgb])
        let twin = NearestNeighbourIndex.referenceSearch(
            queries: try MemoryBank.positionVectors(of: rgbFeatures, channels: 6),
            bank: rgb.vectors)
        XCTAssertEqual(rgbScores.nearestIndices, twin.indices)
    }
}
