// InspectionModel.load(pack:) against load(folder:): an f32 pack gives the same features.

import Foundation
import XCTest
import MVADEngine
import MVADPack
@testable import MVADInspect

final class InspectionPackTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/pipeline")

    /// Unfolded, the pack gives the same bits; folded packs are checked in QualityGateTests.
    func testFloat32PackGivesTheFolderModelsFeatures() throws {
        let folder = Self.root.appendingPathComponent("models").path
        let output = FileManager.default.temporaryDirectory
            .appendingPathComponent("mvad-inspect-\(UUID().uuidString).mvad").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        _ = try PackConverter.convert(modelFolder: folder, output: output,
                                      options: ConversionOptions(fold: false))
        let fromFolder = try InspectionModel.load(folder: folder)
        let fromPack = try InspectionModel.load(pack: output)
        XCTAssertEqual(fromPack.settings, fromFolder.settings)
        XCTAssertEqual(fromPack.context, fromFolder.context)

        let views = try XCTUnwrap(try PartFolder.part(
            id: "000", in: Self.root.appendingPathComponent("parts/train")))
        let part = try PartLoader.load(views, size: 32, modality: .both)
        let images = PartImages(lights: part.lights, normals: part.normals)
        let compute = Compute(threads: 1)
        let expected = try FeatureExtractor(model: fromFolder, compute: compute)
            .features(of: images, modality: .both, observe: { _, _ in })
        let actual = try FeatureExtractor(model: fromPack, compute: compute)
            .features(of: images, modality: .both, observe: { _, _ in })
        XCTAssertNotNil(expected.rgb)
        XCTAssertEqual(actual.rgb, expected.rgb)
        XCTAssertEqual(actual.normals, expected.normals)
    }

    func testABankBuiltWithOtherWeightsIsRefused() throws {
        let folder = Self.root.appendingPathComponent("models").path
        let output = FileManager.default.temporaryDirectory
            .appendingPathComponent("mvad-int8-\(UUID().uuidString).mvad").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        _ = try PackConverter.convert(modelFolder: folder, output: output,
                                      options: ConversionOptions(weights: .int8PerChannel))
        let float = try InspectionModel.load(folder: folder)
        let int8 = try InspectionModel.load(pack: output)
        XCTAssertEqual(float.weights, "f32")
        XCTAssertEqual(int8.weights, "int8")

        let compute = Compute(threads: 2)
        var builder = try BankBuilder(model: float, modality: .rgb, compute: compute)
        let views = try XCTUnwrap(try PartFolder.part(
            id: "000", in: Self.root.appendingPathComponent("parts/train")))
        _ = try builder.add(try PartLoader.load(views, size: 32, modality: .rgb))
        let banks = try builder.bankFile(coresetFraction: nil, provenance: [:])
        XCTAssertNoThrow(try Inspector(model: float, banks: banks, modality: .rgb, compute: compute))
        XCTAssertThrowsError(try Inspector(model: int8, banks: banks, modality: .rgb, compute: compute)) {
            XCTAssertTrue("\($0)".contains("weights"), "\($0)")
        }
    }
}
