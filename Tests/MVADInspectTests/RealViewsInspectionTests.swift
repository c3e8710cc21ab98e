// Inspection of real Eyecandies views (../shared/data/eyecandies/GummyBear-full: six 512 px
// JPEG lights and a normal map) with the tiny pipeline model: it must complete and give finite
// scores. The views are resized to the model's 32 px as any station input would be.

import Foundation
import XCTest
@testable import MVADEngine
@testable import MVADInspect

final class RealViewsInspectionTests: XCTestCase {
    func testInspectingTheGummyBearViewsCompletesWithFiniteScores() throws {
        let folder = PartFixtures.sharedFolder.appendingPathComponent("data/eyecandies/GummyBear-full")
        guard PartFolder.isFolder(folder.path) else {
            // tools/test always sets MVAD_SHARED_DIR, so there a missing folder is a failure.
            if ProcessInfo.processInfo.environment["MVAD_SHARED_DIR"] != nil {
                return XCTFail("shared data missing at \(folder.path)")
            }
            throw XCTSkip("shared Eyecandies data not found at \(folder.path)")
        }
        let root = PipelineParityTests.root
        let model = try InspectionModel.load(folder: root.appendingPathComponent("models").path)
        let compute = Compute(threads: 2)
        var builder = try BankBuilder(model: model, modality: .both, compute: compute)
        for views in try PartFolder.parts(in: root.appendingPathComponent("parts/train")) {
            _ = try builder.add(try PartLoader.load(views, size: 32, modality: .both))
        }
        var banks = try builder.bankFile(coresetFraction: nil, provenance: [:])
        banks.threshold = 1
        let inspector = try Inspector(model: model, banks: banks, modality: .both, compute: compute)

        let views = try XCTUnwrap(try PartFolder.parts(in: folder).first)
        let part = try PartLoader.load(views, size: 32, modality: .both, includeMask: false)
        XCTAssertEqual(part.originalWidth, 512)
        let result = try inspector.inspect(part)
        XCTAssertTrue(result.score.isFinite && result.score > 0, "score \(result.score)")
        XCTAssertTrue(result.rgbScore?.isFinite == true && result.normalsScore?.isFinite == true)
        XCTAssertFalse(result.scores.pixelMap.scalars.contains { !$0.isFinite })
        XCTAssertEqual(result.passed, false, "a candy the tiny model never saw, threshold 1")
    }
}
