// The converter's quality gate on the tiny pipeline fixture: the int8 pack passes and is kept,
// a stricter limit fails the conversion with the measured values and removes the pack, and
// the cosine and leave-one-out scores match hand computations.

import Foundation
import XCTest
import MVADEngine
import MVADPack
@testable import MVADInspect

final class QualityGateTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/pipeline")
    static var modelFolder: String { root.appendingPathComponent("models").path }
    /// A limit no int8 conversion meets: the "damaged" conversion of the brief.
    static let impossibleCosine = 0.9999999
    /// How close a folded f32 pack's features come to the folder's: rounding of sgemm at
    /// another batch size only.
    static let foldedCosineLimit = 1e-9

    var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("mvad-gate-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// The fixture's four test parts (one with a visible defect), normal maps only: the
    /// normals branch runs one UNet pair per part instead of twelve, which keeps this fast.
    /// On this random tiny model the three good parts' fused 'both' scores lie within 1.1%
    /// of each other and int8 reorders them, so 'both' would fail rank identity here.
    func gate() throws -> QualityGate {
        let views = try PartFolder.parts(in: Self.root.appendingPathComponent("parts/test"))
        XCTAssertEqual(views.count, 4)
        let parts = try views.map { part in
            let loaded = try PartLoader.load(part, size: 32, modality: .normals,
                                             includeMask: false)
            return CalibrationPart(id: part.id, images: PartImages(lights: nil,
                                                                   normals: loaded.normals))
        }
        return try QualityGate(reference: InspectionModel.load(folder: Self.modelFolder),
                               parts: parts, modality: .normals, compute: Compute(threads: 2))
    }

    func testInt8PackPassesAndAStricterLimitFailsRemovingThePack() throws {
        let gate = try gate()
        let options = ConversionOptions(weights: .int8PerChannel)
        let output = folder + "/int8.mvad"
        let (report, measurement) = try gate.convert(modelFolder: Self.modelFolder,
                                                     output: output, options: options)
        XCTAssertEqual(report.output, output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: output))
        XCTAssertFalse(FileManager.default.fileExists(atPath: output + ".unchecked"))
        XCTAssertGreaterThanOrEqual(measurement.meanCosine, QualityGate.minimumMeanCosine)
        XCTAssertLessThan(measurement.meanCosine, 1)
        XCTAssertLessThanOrEqual(measurement.minimumCosine, measurement.meanCosine)
        XCTAssertTrue(measurement.ranksIdentical)
        XCTAssertEqual(measurement.partIDs, ["000", "001", "002", "003"])

        let strict = folder + "/strict.mvad"
        XCTAssertThrowsError(try gate.convert(modelFolder: Self.modelFolder, output: strict,
                                              options: options,
                                              minimumMeanCosine: Self.impossibleCosine)) {
            guard case let QualityGateError.failed(pack, failed, limit) = $0 else {
                return XCTFail("expected a failed gate, got \($0)")
            }
            XCTAssertEqual(pack, strict)
            XCTAssertEqual(limit, Self.impossibleCosine)
            XCTAssertEqual(failed.meanCosine, measurement.meanCosine, accuracy: 1e-12)
            let text = "\($0)"
            XCTAssertTrue(text.contains(String(format: "mean feature cosine %.6f is below the "
                                               + "required 0.9999999", measurement.meanCosine)),
                          text)
            XCTAssertTrue(text.contains("the pack was not written"), text)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: strict))
        XCTAssertFalse(FileManager.default.fileExists(atPath: strict + ".unchecked"))

        // A folded f32 pack gives the folder's features up to sgemm rounding.
        let (_, exact) = try gate.convert(modelFolder: Self.modelFolder,
                                          output: folder + "/f32.mvad",
                                          options: ConversionOptions())
        XCTAssertGreaterThan(exact.meanCosine, 1 - Self.foldedCosineLimit)
        XCTAssertEqual(exact.candidateScores.count, 4)
        for (a, b) in zip(exact.candidateScores, exact.referenceScores) {
            XCTAssertEqual(a, b, accuracy: 1e-4 * b)
        }
    }

    func testCosinesPerPositionByHand() throws {
        // Maps [C = 2, 2, 2]; position p holds (a[0, p], a[1, p]).
        let a = Tensor(shape: [2, 2, 2], scalars: [1, 0, 3, 0, 0, 2, 4, 0])
        let b = Tensor(shape: [2, 2, 2], scalars: [1, 5, -3, 0, 1, 0, -4, 0])
        let cosines = try QualityGate.positionCosines(a, b)
        // (1,0)·(1,1) = 1 / sqrt 2; (0,2)·(5,0) = 0; (3,4)·(-3,-4) = -1; zero and zero: 1.
        XCTAssertEqual(cosines[0], 1 / 2.0.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(cosines[1], 0, accuracy: 1e-12)
        XCTAssertEqual(cosines[2], -1, accuracy: 1e-12)
        XCTAssertEqual(cosines[3], 1)
        XCTAssertThrowsError(try QualityGate.positionCosines(a, Tensor(zeros: [2, 1, 4])))
    }

    func testLeaveOneOutScoresAndRankOrderByHand() throws {
        let model = try InspectionModel.load(folder: Self.modelFolder)
        // Three parts, C = 1, G = 2: bank = the other parts' four values each; top-k 3.
        let values: [[Float]] = [[0, 1, 2, 3], [0, 1, 2, 10], [5, 5, 5, 5]]
        let features = values.map {
            PartFeatures(rgb: nil, normals: Tensor(shape: [1, 2, 2], scalars: $0))
        }
        let scores = try QualityGate.leaveOneOutScores(features, model: model,
                                                       modality: .normals,
                                                       compute: Compute(threads: 1))
        // Part 0 vs {0,1,2,10,5}: distances 0,0,0,1 -> top 3 mean 1/3. Part 1 vs
        // {0,1,2,3,5}: 0,0,0,5 -> 5/3. Part 2 vs {0,1,2,3,10}: 2,2,2,2 -> 2.
        XCTAssertEqual(model.settings.topK, 3)
        XCTAssertEqual(scores[0], 1.0 / 3, accuracy: 1e-6)
        XCTAssertEqual(scores[1], 5.0 / 3, accuracy: 1e-6)
        XCTAssertEqual(scores[2], 2, accuracy: 1e-6)

        let flipped = QualityMeasurement(partIDs: ["a", "b", "c"], meanCosine: 0.999,
                                         minimumCosine: 0.9, referenceScores: scores,
                                         candidateScores: [scores[1], scores[0], scores[2]])
        XCTAssertEqual(flipped.referenceOrder, [0, 1, 2])
        XCTAssertEqual(flipped.candidateOrder, [1, 0, 2])
        XCTAssertFalse(flipped.ranksIdentical)
        XCTAssertEqual(flipped.failures(minimumMeanCosine: 0.995), [
            "the image scores rank the parts differently: float model a < b < c, pack b < a < c"])
    }
}
