// Tests of MemoryBank and BankFile: position order of appended feature maps, the settings
// check, and the safetensors round trip with its refusals.

import Foundation
import XCTest
import MVADEngine
@testable import MVADInspect

final class ScoringBankTests: XCTestCase {
    private let settings = [
        "image_size": "256", "timesteps": "1,21,41,61,81", "feature_blocks": "2", "grid": "2",
    ]

    func testAppendUsesRowMajorPositionOrder() throws {
        // features [C=3, G=2, G=2] with value = 100 c + 10 y + x
        var values: [Float] = []
        for c in 0..<3 {
            for y in 0..<2 {
                for x in 0..<2 { values.append(Float(100 * c + 10 * y + x)) }
            }
        }
        var bank = try MemoryBank(modality: .rgb, channels: 3, settings: settings)
        try bank.append(features: Tensor(shape: [3, 2, 2], scalars: values))
        try bank.append(features: Tensor(shape: [3, 2, 2], scalars: values.map { $0 + 1000 }))

        XCTAssertEqual(bank.count, 8)
        XCTAssertEqual(bank.vectors.shape, [8, 3])
        // position p = y * G + x holds features[:, y, x]
        XCTAssertEqual(Array(bank.vectors.scalars[0..<12]),
                       [0, 100, 200, 1, 101, 201, 10, 110, 210, 11, 111, 211])
        XCTAssertEqual(Array(bank.vectors.scalars[12..<15]), [1000, 1100, 1200])
    }

    func testAppendRefusesOtherChannelCount() throws {
        var bank = try MemoryBank(modality: .normals, channels: 4, settings: settings)
        XCTAssertThrowsError(try bank.append(features: Tensor(zeros: [3, 2, 2]))) { error in
            XCTAssertEqual(error as? ScoringError, .invalidShape(
                what: "features appended to the normals bank", found: [3, 2, 2],
                expected: "[4, G, G]"))
        }
    }

    func testBankBuiltWithOtherSettingsIsRefused() throws {
        let bank = try MemoryBank(
            modality: .rgb, vectors: Tensor(zeros: [2, 3]), settings: settings)
        XCTAssertNoThrow(try bank.requireSettings(settings))

        var expected = settings
        expected["image_size"] = "512"
        expected["grid"] = nil
        expected["prompt"] = "A photo of a Marshmallow"
        XCTAssertThrowsError(try bank.requireSettings(expected)) { error in
            guard let error = error as? ScoringError else { return XCTFail("\(error)") }
            XCTAssertEqual(error, .settingsMismatch(modality: "rgb", differences: [
                SettingDifference(name: "grid", bankValue: "2", expectedValue: nil),
                SettingDifference(name: "image_size", bankValue: "256", expectedValue: "512"),
                SettingDifference(
                    name: "prompt", bankValue: nil, expectedValue: "A photo of a Marshmallow"),
            ]))
            let text = error.description
            XCTAssertTrue(text.contains("'image_size' is '256' in the bank, expected '512'"), text)
            XCTAssertTrue(text.contains("'grid' is '2' in the bank, expected (absent)"), text)
        }
    }

    func testBankFileRoundTrip() throws {
        var random = ScoringRandom(seed: 7)
        let rgb = try MemoryBank(
            modality: .rgb, vectors: random.tensor([10, 5]), settings: settings,
            provenance: ["category": "CandyCane", "parts": "3"])
        let normals = try MemoryBank(
            modality: .normals, vectors: random.tensor([12, 5]), settings: settings)
        let file = try BankFile(
            banks: [rgb, normals], threshold: 0.123456789012345,
            provenance: ["tool": "mvad test", "dotted.key": "x"])

        let folder = try ScoringFixtures.scratchFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/bank.safetensors"
        try file.write(to: path)
        let loaded = try BankFile(path: path)

        XCTAssertEqual(loaded, file)
        XCTAssertEqual(loaded.rgb?.vectors.scalars, rgb.vectors.scalars)
        XCTAssertEqual(loaded.normals?.settings, settings)
        XCTAssertEqual(loaded.rgb?.provenance["category"], "CandyCane")
        XCTAssertEqual(loaded.threshold, 0.123456789012345)
        XCTAssertEqual(loaded.provenance["dotted.key"], "x")
        XCTAssertEqual(try SafeTensorsFile(path: path).names, ["bank.normals", "bank.rgb"])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder)
        XCTAssertEqual(leftovers, ["bank.safetensors"], "no temporary file is left behind")
    }

    func testLoadedBankWithOtherSettingsIsRefusedOnUse() throws {
        let rgb = try MemoryBank(modality: .rgb, vectors: Tensor(zeros: [2, 3]), settings: settings)
        let folder = try ScoringFixtures.scratchFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/bank.safetensors"
        try BankFile(banks: [rgb]).write(to: path)
        let loaded = try BankFile(path: path)

        var expected = settings
        expected["timesteps"] = "1,21,41"
        XCTAssertThrowsError(try loaded.bank(.rgb, expectedSettings: expected)) { error in
            XCTAssertEqual(error as? ScoringError, .settingsMismatch(modality: "rgb", differences: [
                SettingDifference(
                    name: "timesteps", bankValue: "1,21,41,61,81", expectedValue: "1,21,41"),
            ]))
        }
        XCTAssertThrowsError(try AnomalyScorer(banks: loaded, expectedSettings: expected))
        XCTAssertThrowsError(try loaded.bank(.normals)) { error in
            XCTAssertEqual(error as? ScoringError, .missingBank(modality: "normals", path: path))
        }
        XCTAssertNil(loaded.threshold)
    }

    func testMalformedBankFilesAreRefused() throws {
        let folder = try ScoringFixtures.scratchFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/bad.safetensors"
        let vectors = Tensor(zeros: [2, 3])

        try SafeTensorsWriter.write([("bank.rgb", vectors)], metadata: [:], to: path)
        XCTAssertThrowsError(try BankFile(path: path)) { error in
            XCTAssertEqual(error as? ScoringError, .malformedBankFile(
                path: path, problem: "the metadata has no 'format' key; expected "
                    + "'\(BankFile.formatTag)'"))
        }

        let format = ["format": BankFile.formatTag]
        try SafeTensorsWriter.write([("bank.depth", vectors)], metadata: format, to: path)
        XCTAssertThrowsError(try BankFile(path: path)) { error in
            XCTAssertTrue("\(error)".contains("unexpected tensor 'bank.depth'"), "\(error)")
        }

        try SafeTensorsWriter.write(
            [("bank.rgb", Tensor(zeros: [6]))], metadata: format, to: path)
        XCTAssertThrowsError(try BankFile(path: path)) { error in
            XCTAssertTrue("\(error)".contains("has shape [6]; expected [M, C]"), "\(error)")
        }

        var badThreshold = format
        badThreshold["threshold"] = "high"
        try SafeTensorsWriter.write([("bank.rgb", vectors)], metadata: badThreshold, to: path)
        XCTAssertThrowsError(try BankFile(path: path)) { error in
            XCTAssertTrue("\(error)".contains("the threshold is 'high'"), "\(error)")
        }
    }

    func testCoresetReduceKeepsSettingsAndRecordsFraction() throws {
        var random = ScoringRandom(seed: 3)
        let bank = try MemoryBank(
            modality: .normals, vectors: random.tensor([40, 4]), settings: settings)
        let reduced = try Coreset.reduce(bank, fraction: 0.25, compute: Compute(threads: 2))
        XCTAssertEqual(reduced.count, 10)
        XCTAssertEqual(reduced.settings, settings)
        XCTAssertEqual(reduced.provenance["coreset_fraction"], "0.25")
        XCTAssertEqual(reduced.provenance["coreset_source_count"], "40")
        XCTAssertEqual(Array(reduced.vectors.scalars[0..<4]), Array(bank.vectors.scalars[0..<4]))
    }
}
