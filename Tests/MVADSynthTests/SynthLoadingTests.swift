// A generated category read back by MVADInspect: Dataset finds the category and splits,
// PartFolder the parts, PartLoader the views, and the masks give the labels and the pixels.

import Foundation
import MVADInspect
import MVADSynth
import XCTest

final class SynthLoadingTests: XCTestCase {
    func testWrittenCategoryLoadsAsAnEyecandiesDataset() throws {
        let root = try SynthTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let dataset = try SynthTestSupport.dataset(kinds: [.stain, .missing])
        let manifest = try dataset.write(to: root, counts: SplitCounts(train: 2, val: 1, test: 4))

        let loaded = try Dataset(root: root)
        XCTAssertEqual(loaded.categories, ["SynthCandy"])
        XCTAssertEqual(try loaded.parts(category: "SynthCandy", split: .train).map(\.id),
                       ["000", "001"])
        XCTAssertEqual(try loaded.parts(category: "SynthCandy", split: .val).count, 1)
        let test = try loaded.labelledTestParts(category: "SynthCandy")
        XCTAssertEqual(test.map(\.part.id), ["000", "001", "002", "003"])
        XCTAssertEqual(test.map(\.isDefective), [false, true, false, true])

        let entries = manifest.parts.filter { $0.split == "test_public" }
        XCTAssertEqual(entries.map(\.defectKinds), [[], [.stain], [], [.missing]])
        for labelled in test {
            let part = try PartLoader.load(labelled.part, size: 64, modality: .both)
            XCTAssertEqual(part.lights?.shape, [6, 3, 64, 64])
            XCTAssertEqual(part.normals?.shape, [1, 3, 64, 64])
            let mask = try XCTUnwrap(part.mask)
            let marked = mask.scalars.filter { $0 > 0.5 }.count
            let entry = try XCTUnwrap(entries.first { $0.id == labelled.part.id })
            XCTAssertEqual(marked, entry.maskPixels, "part \(labelled.part.id)")
            XCTAssertEqual(marked > 0, labelled.isDefective)
        }
        // Train and val parts have no mask file.
        XCTAssertTrue(try loaded.parts(category: "SynthCandy", split: .train)
            .allSatisfy { $0.mask == nil })
    }

    func testManifestListsEveryPartWithItsSeed() throws {
        let root = try SynthTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let dataset = try SynthTestSupport.dataset(seed: 99)
        try dataset.write(to: root, counts: SplitCounts(train: 1, val: 1, test: 2))
        let data = try Data(contentsOf: root.appendingPathComponent("SynthCandy/manifest.json"))
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(json["master_seed"] as? Int, 99)
        let parts = try XCTUnwrap(json["parts"] as? [[String: Any]])
        XCTAssertEqual(parts.map { $0["split"] as? String },
                       ["train", "val", "test_public", "test_public"])
        XCTAssertEqual(parts.map { $0["label"] as? String }, ["good", "good", "good", "defective"])
        let seed = try XCTUnwrap(parts[3]["seed"] as? NSNumber)
        XCTAssertEqual(seed.uint64Value, dataset.partSeed(split: .testPublic, index: 1))
        let recipe = try XCTUnwrap(parts[3]["recipe"] as? [String: Any])
        let defects = try XCTUnwrap(recipe["defects"] as? [[String: Any]])
        XCTAssertEqual(defects.first?["kind"] as? String, DefectKind.stain.rawValue)
        XCTAssertNotNil(defects.first?["center_x"] as? Double)
        XCTAssertEqual((recipe["light_gains"] as? [Double])?.count, 5)
    }
}
