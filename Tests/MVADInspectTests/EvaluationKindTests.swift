// Evaluation per defect kind (on hand-made score lists) and the plain-UNet ablation model
// (modality 'both' without a ControlNet), which the demo model's evaluation reports.

import Foundation
import XCTest
import MVADEngine
@testable import MVADInspect

final class EvaluationKindTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/pipeline")

    private func part(_ id: String, rgb: Double, normals: Double,
                      defective: Bool) -> EvaluatedPart {
        let blank = Tensor(shape: [2, 2], scalars: [0, 0, 0, 0])
        func scores(_ modality: MemoryBank.Modality, _ value: Double) -> ModalityScores {
            ModalityScores(modality: modality, gridMap: blank, nearestIndices: [0, 0, 0, 0],
                           imageScore: value, pixelMap: blank)
        }
        let partScores = PartScores(modalities: [.rgb: scores(.rgb, rgb),
                                                 .normals: scores(.normals, normals)],
                                    imageScore: rgb + normals, pixelMap: blank)
        let result = InspectionResult(partID: id, score: rgb + normals, rgbScore: rgb,
                                      normalsScore: normals, threshold: nil,
                                      thresholdSource: "none", passed: nil, scores: partScores,
                                      timings: [:])
        return EvaluatedPart(result: result, mask: blank, isDefective: defective)
    }

    func testEachKindIsItsPartsAgainstEveryGoodPart() throws {
        let parts = [
            part("000", rgb: 1, normals: 1, defective: false),
            part("002", rgb: 2, normals: 2, defective: false),
            part("004", rgb: 3, normals: 3, defective: false),
            part("001", rgb: 5, normals: 1.5, defective: true),     // stain: seen in the lights
            part("003", rgb: 2.5, normals: 4, defective: true),     // dent: seen in the normals
            part("005", rgb: 9, normals: 9, defective: true),       // no kind listed: left out
        ]
        let rows = try Evaluation.rowsByKind(parts, kinds: ["001": ["stain"], "003": ["dent"],
                                                            "000": ["ignored: a good part"]])
        XCTAssertEqual(rows.map(\.kind), ["dent", "stain"])
        XCTAssertEqual(rows.map(\.count), [1, 1])
        // dent 2.5 beats two of the three good RGB scores (1, 2, 3); 4 beats all normals;
        // fused 6.5 beats 2, 4 and 6.
        XCTAssertEqual(rows[0].imageAUROC, ["RGB": 2.0 / 3, "NMap": 1, "RGB+NMap": 1])
        // stain: 5 beats every RGB score, 1.5 only the normals score 1.
        XCTAssertEqual(rows[1].imageAUROC, ["RGB": 1, "NMap": 1.0 / 3, "RGB+NMap": 1])
    }

    func testAPartWithTwoKindsCountsForBothAndTiesCountHalf() throws {
        let parts = [
            part("000", rgb: 1, normals: 1, defective: false),
            part("002", rgb: 2, normals: 2, defective: false),
            part("001", rgb: 2, normals: 3, defective: true),
        ]
        let rows = try Evaluation.rowsByKind(parts, kinds: ["001": ["missing", "stain"]])
        XCTAssertEqual(rows.map(\.kind), ["missing", "stain"])
        XCTAssertEqual(rows[0].imageAUROC["RGB"], 0.75)   // beats 1, ties 2
        XCTAssertEqual(rows[0].imageAUROC, rows[1].imageAUROC)
        XCTAssertEqual(try Evaluation.rowsByKind(parts, kinds: [:]), [])
    }

    /// Without a ControlNet, modality 'both' runs the UNet alone on every view: its RGB map is
    /// the 'rgb' modality's and its normals map the 'normals' modality's, to the bit, and a
    /// bank of it records the UNet as its feature source.
    func testBothWithoutAControlNetIsThePlainUNetOnEachBranch() throws {
        let full = try InspectionModel.load(folder: Self.root.appendingPathComponent("models").path)
        XCTAssertNotNil(full.control)
        let plain = try InspectionModel(settings: full.settings, vae: full.vae, unet: full.unet,
                                        control: nil, context: full.context, source: full.source)
        XCTAssertEqual(plain.bankDependencies(for: .both)["feature_source"], "unet")
        XCTAssertEqual(full.bankDependencies(for: .both)["feature_source"], "unet+controlnet")

        let views = try XCTUnwrap(try PartFolder.part(
            id: "000", in: Self.root.appendingPathComponent("parts/test")))
        let loaded = try PartLoader.load(views, size: 32, modality: .both)
        let images = PartImages(lights: loaded.lights, normals: loaded.normals)
        let extractor = FeatureExtractor(model: plain, compute: Compute(threads: 2))
        let both = try extractor.features(of: images, modality: .both, observe: { _, _ in })
        let rgb = try extractor.features(of: images, modality: .rgb, observe: { _, _ in })
        let normals = try extractor.features(of: images, modality: .normals, observe: { _, _ in })
        XCTAssertNotNil(both.rgb)
        XCTAssertEqual(both.rgb, rgb.rgb)
        XCTAssertEqual(both.normals, normals.normals)
        let withControl = try FeatureExtractor(model: full, compute: Compute(threads: 2))
            .features(of: images, modality: .both, observe: { _, _ in })
        XCTAssertNotEqual(withControl.rgb, both.rgb)
    }
}
