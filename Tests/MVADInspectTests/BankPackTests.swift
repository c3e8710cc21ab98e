// Memory banks stored in a .mvad pack (issue 4): int8 per feature vector with the settings,
// provenance and threshold they were built with, read back within the quantisation step, and
// refused for a pack whose settings or weights differ, naming the setting.

import Foundation
import XCTest
import MVADEngine
import MVADPack
@testable import MVADInspect

final class BankPackTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("mvad-bankpack-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Banks with hand-made vectors, as `bank build` with the fixture's settings would label them.
    func banks(weights: String) throws -> BankFile {
        let settings = MethodSettings().bankDependencies(for: .both)
            .merging(["weights": weights]) { _, new in new }
        func bank(_ modality: MemoryBank.Modality, _ offset: Float) throws -> MemoryBank {
            // Row r holds r + 1 at column 0 and smaller entries elsewhere: one scale per row.
            let vectors = Tensor(shape: [5, 3]) { out in
                for r in 0..<5 {
                    out[r * 3] = Float(r + 1)
                    out[r * 3 + 1] = offset * Float(r + 1) / 3
                    out[r * 3 + 2] = -0.01 * Float(r)
                }
            }
            return try MemoryBank(modality: modality, vectors: vectors, settings: settings,
                                  provenance: ["parts": "5"])
        }
        return try BankFile(banks: [bank(.rgb, 1), bank(.normals, -2)], threshold: 36.5,
                            provenance: ["tool": "test"])
    }

    func convert(with attachment: PackAttachment?) throws -> PackFile {
        var options = ConversionOptions(weights: .int8PerChannel,
                                        defaultTimesteps: MethodSettings().timesteps)
        options.attachments = attachment.map { [$0] } ?? []
        let output = folder + "/model.mvad"
        _ = try PackConverter.convert(modelFolder: QualityGateTests.modelFolder, output: output,
                                      options: options)
        return try PackFile(path: output)
    }

    func testBanksRoundTripThroughThePackAsInt8PerVector() throws {
        let original = try banks(weights: "int8")
        let pack = try convert(with: try original.packAttachment())
        XCTAssertTrue(BankFile.isStored(in: pack))
        XCTAssertEqual(pack.entry("bank.rgb")?.quantization, .int8PerChannel)
        XCTAssertEqual(pack.entry("bank.normals")?.dtype, .int8)

        let loaded = try BankFile(pack: pack)
        XCTAssertEqual(loaded.threshold, 36.5)
        XCTAssertEqual(loaded.provenance, ["tool": "test"])
        for modality in MemoryBank.Modality.allCases {
            let a = try original.bank(modality)
            let b = try loaded.bank(modality)
            XCTAssertEqual(b.settings, a.settings)
            XCTAssertEqual(b.provenance, a.provenance)
            XCTAssertEqual(b.vectors.shape, a.vectors.shape)
            // Each entry within half a step of its row's scale, max|row| / 127.
            for r in 0..<5 {
                let step = Float(r + 1) / 127
                for c in 0..<3 {
                    let (x, y) = (a.vectors.scalars[r * 3 + c], b.vectors.scalars[r * 3 + c])
                    XCTAssertEqual(y, x, accuracy: step / 2 * 1.0001, "\(modality) [\(r), \(c)]")
                }
            }
            // The largest entry of a row is exact: it is 127 steps.
            XCTAssertEqual(b.vectors.scalars[6], 3, accuracy: 1e-6)
        }
    }

    func testAPackWithoutBanksSaysSo() throws {
        let pack = try convert(with: nil)
        XCTAssertFalse(BankFile.isStored(in: pack))
        XCTAssertThrowsError(try BankFile(pack: pack)) { error in
            XCTAssertTrue("\(error)".contains("holds no banks"), "\(error)")
        }
    }

    func testBanksBuiltWithOtherWeightsOrSettingsAreRefusedNamingTheSetting() throws {
        let float = try banks(weights: "f32")
        XCTAssertNoThrow(try float.requireBuilt(with: MethodSettings(), weights: "f32"))
        XCTAssertThrowsError(try float.requireBuilt(with: MethodSettings(), weights: "int8")) {
            XCTAssertTrue("\($0)".contains("'weights' is 'f32' in the bank, expected 'int8'"),
                          "\($0)")
        }
        var other = MethodSettings()
        other.gridSize = 8
        XCTAssertThrowsError(try float.requireBuilt(with: other, weights: "f32")) {
            XCTAssertTrue("\($0)".contains("grid_size"), "\($0)")
        }
    }

    func testFloatBanksRelabelledForAnInt8PackKeepTheirVectorsAndSayWhereTheyCameFrom() throws {
        let float = try banks(weights: "f32")
        let relabelled = try float.relabelled(weights: "int8")
        XCTAssertNoThrow(try relabelled.requireBuilt(with: MethodSettings(), weights: "int8"))
        XCTAssertEqual(relabelled.banks.keys.sorted(), float.banks.keys.sorted())
        for (modality, before) in float.banks {
            let after = try XCTUnwrap(relabelled.banks[modality])
            XCTAssertEqual(after.vectors.scalars, before.vectors.scalars, "\(modality)")
            XCTAssertEqual(after.settings["weights"], "int8")
            XCTAssertEqual(after.provenance["features_weights"], "f32")
            var others = after.settings
            others["weights"] = before.settings["weights"]
            XCTAssertEqual(others, before.settings, "\(modality): only 'weights' changes")
        }
        XCTAssertEqual(relabelled.threshold, float.threshold)
        // Relabelling to the weights the features already have records nothing.
        let same = try float.relabelled(weights: "f32")
        XCTAssertNil(same.banks.values.first?.provenance["features_weights"])
    }
}
