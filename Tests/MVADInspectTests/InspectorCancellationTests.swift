// Inspector's cancellation hook on the tiny pipeline fixture: where it is asked, that a check
// answering true stops the inspection with InspectionError.cancelled and nothing else, and that
// a check which never fires leaves every number of the result as it is without one.

import Foundation
import Synchronization
import XCTest
import MVADEngine
@testable import MVADInspect

/// A cancellation check that counts how often it is asked and answers true from the check with
/// index `firesAt` on (0: the first; nil: never).
final class CountingCancellation: CancellationCheck {
    private let asked = Atomic<Int>(0)
    let firesAt: Int?

    init(firesAt: Int?) { self.firesAt = firesAt }

    var count: Int { asked.load(ordering: .relaxed) }

    var isCancelled: Bool {
        let index = asked.wrappingAdd(1, ordering: .relaxed).oldValue
        return firesAt.map { index >= $0 } ?? false
    }
}

final class InspectorCancellationTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/pipeline")

    /// Checks of one `.both` inspection of the fixture (5 timesteps, 12 pairs in batches of 6):
    /// 7 VAE encodes, 5 x 2 UNet + ControlNet batches, 2 feature batches, the scoring.
    static let checksPerInspection = 7 + 5 * 2 + 2 + 1

    /// An inspector whose banks hold one good train part, and a test part.
    private func fixture() throws -> (Inspector, LoadedPart) {
        let models = Self.root.appendingPathComponent("models").path
        let model = try InspectionModel.load(folder: models)
        let compute = Compute(threads: 2)
        var builder = try BankBuilder(model: model, modality: .both, compute: compute)
        _ = try builder.add(try part("train", "000"))
        let banks = try builder.bankFile(coresetFraction: nil, provenance: [:])
        let inspector = try Inspector(model: model, banks: banks, modality: .both,
                                      compute: compute, threshold: 1)
        XCTAssertEqual(model.settings.timesteps.count, 5)
        return (inspector, try part("test", "002"))
    }

    private func part(_ split: String, _ id: String) throws -> LoadedPart {
        let folder = Self.root.appendingPathComponent("parts/\(split)")
        let views = try XCTUnwrap(try PartFolder.part(id: id, in: folder))
        return try PartLoader.load(views, size: 32, modality: .both)
    }

    func testACheckThatFiresStopsTheInspectionWithCancelled() throws {
        let (inspector, part) = try fixture()
        let cases: [(firesAt: Int, stage: String)] = [
            (0, "the VAE encode of view 0"),
            (3, "the VAE encode of view 3"),
            (7, "the UNet pass at timestep 1 (pairs 0..<6)"),
            (16, "the UNet pass at timestep 81 (pairs 6..<12)"),
            (17, "the feature pass at timestep 81 (pairs 0..<6)"),
            (Self.checksPerInspection - 1, "the scoring"),
        ]
        for (firesAt, stage) in cases {
            let check = CountingCancellation(firesAt: firesAt)
            XCTAssertThrowsError(try inspector.inspect(part, cancellation: check)) { error in
                XCTAssertEqual(error as? InspectionError, .cancelled(before: stage),
                               "fires at check \(firesAt)")
            }
            // Stopped at once: no check (and so no step) after the one that fired.
            XCTAssertEqual(check.count, firesAt + 1, "fires at check \(firesAt)")
        }
    }

    func testACheckThatNeverFiresChangesNothing() throws {
        let (inspector, part) = try fixture()
        let expected = try inspector.inspect(part)
        let check = CountingCancellation(firesAt: nil)
        let actual = try inspector.inspect(part, cancellation: check)
        XCTAssertEqual(check.count, Self.checksPerInspection)

        XCTAssertEqual(actual.score, expected.score)
        XCTAssertEqual(actual.rgbScore, expected.rgbScore)
        XCTAssertEqual(actual.normalsScore, expected.normalsScore)
        XCTAssertEqual(actual.passed, expected.passed)
        XCTAssertEqual(actual.scores.modalities.count, 2)
        XCTAssertEqual(actual.scores, expected.scores)      // grid and pixel maps, bit for bit
        XCTAssertEqual(Set(actual.timings.keys), Set(expected.timings.keys))
    }

    func testACheckThatFiresAfterTheLastStepLetsTheResultThrough() throws {
        let (inspector, part) = try fixture()
        let check = CountingCancellation(firesAt: Self.checksPerInspection)
        XCTAssertNoThrow(try inspector.inspect(part, cancellation: check))
        XCTAssertEqual(check.count, Self.checksPerInspection)
    }
}
