// settings.json is read strictly: unknown keys, wrong types and out-of-range values are errors
// naming the key and the file; absent keys keep the defaults. And banks built for one
// modality are refused, with a hint, by an inspector of another.

import Foundation
import XCTest
@testable import MVADEngine
@testable import MVADInspect

final class MethodSettingsTests: XCTestCase {
    private func read(_ json: String) throws -> MethodSettings {
        try MethodSettings.read(json: Data(json.utf8), path: "model/settings.json")
    }

    private func assertRefused(_ json: String, key: String, mentions: String,
                               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try read(json), file: file, line: line) { error in
            guard let error = error as? SettingsError else {
                return XCTFail("unexpected \(error)", file: file, line: line)
            }
            XCTAssertEqual(error.key, key, file: file, line: line)
            XCTAssertTrue(error.description.contains(mentions), "\(error)", file: file, line: line)
            XCTAssertTrue(error.description.contains("model/settings.json"), file: file, line: line)
        }
    }

    func testAbsentKeysKeepDefaultsAndGivenOnesAreRead() throws {
        let settings = try read(#"{"image_size": 32, "feature_blocks": [1, 2], "grid_size": 16}"#)
        XCTAssertEqual(settings.imageSize, 32)
        XCTAssertEqual(settings.featureBlocks, [1, 2])
        XCTAssertEqual(settings.timesteps, [1, 21, 41, 61, 81])
        XCTAssertEqual(settings.topK, 3)
    }

    func testUnknownKeyIsRefusedWithTheClosestKnownOne() {
        assertRefused(#"{"topk": 3}"#, key: "topk", mentions: "did you mean 'top_k'")
        assertRefused(#"{"scheduler": {"beta_strat": 0.1}}"#, key: "scheduler.beta_strat",
                      mentions: "did you mean 'scheduler.beta_start'")
    }

    func testWrongTypesAndRangesNameTheKey() {
        assertRefused(#"{"top_k": "three"}"#, key: "top_k", mentions: "whole number")
        assertRefused(#"{"top_k": 2.5}"#, key: "top_k", mentions: "whole number")
        assertRefused(#"{"top_k": 0}"#, key: "top_k", mentions: "got 0")
        assertRefused(#"{"timesteps": [21, 1]}"#, key: "timesteps", mentions: "ascend")
        assertRefused(#"[1, 2]"#, key: "(file)", mentions: "not a JSON object")
    }

    func testABankBuiltForAnotherModalityIsRefusedWithAHint() throws {
        let root = PipelineParityTests.root
        let model = try InspectionModel.load(folder: root.appendingPathComponent("models").path)
        let compute = Compute(threads: 2)
        var builder = try BankBuilder(model: model, modality: .rgb, compute: compute)
        let views = try XCTUnwrap(try PartFolder.part(id: "000", in: root.appendingPathComponent("parts/train")))
        _ = try builder.add(try PartLoader.load(views, size: 32, modality: .rgb))
        let banks = try builder.bankFile(coresetFraction: nil, provenance: ["modality": "rgb"])
        XCTAssertThrowsError(try Inspector(model: model, banks: banks, modality: .both, compute: compute)) {
            let text = "\($0)"
            XCTAssertTrue(text.contains("--modality rgb"), text)
        }
        XCTAssertNoThrow(try Inspector(model: model, banks: banks, modality: .rgb, compute: compute))
        var negative = banks
        negative.threshold = -5
        XCTAssertThrowsError(try Inspector(model: model, banks: negative, modality: .rgb, compute: compute)) {
            XCTAssertTrue("\($0)".contains("must be a finite number > 0"), "\($0)")
        }
    }
}
