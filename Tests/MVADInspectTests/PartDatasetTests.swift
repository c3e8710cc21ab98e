// Dataset tests: categories of an Eyecandies-layout tree, parts of a split, labels from masks
// (any non-zero pixel is a defect), and the unknown category / missing split / mask errors.

import Foundation
import XCTest
@testable import MVADInspect

final class PartDatasetTests: XCTestCase {
    private var root = URL(fileURLWithPath: NSTemporaryDirectory())

    override func setUpWithError() throws {
        root = try ImageFixtures.scratchFolder()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    private func makeData(_ category: String, _ split: Dataset.Split) throws -> URL {
        let folder = root.appendingPathComponent(category).appendingPathComponent(split.rawValue)
            .appendingPathComponent("data")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    func testCategoriesAreFoldersWithASplit() throws {
        _ = try makeData("Marshmallow", .train)
        _ = try makeData("CandyCane", .val)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("notes"),
                                                withIntermediateDirectories: true)
        XCTAssertEqual(try Dataset(root: root).categories, ["CandyCane", "Marshmallow"])
    }

    func testPartsOfASplit() throws {
        let train = try makeData("CandyCane", .train)
        try PartFixtures.writeEyecandiesPart(train, id: "001")
        try PartFixtures.writeEyecandiesPart(train, id: "000")
        let dataset = try Dataset(root: root)
        XCTAssertEqual(try dataset.parts(category: "CandyCane", split: .train).map(\.id),
                       ["000", "001"])
        assertPartError(try dataset.parts(category: "CandyCane", split: .val)) {
            $0 == .missingSplit(path: root.appendingPathComponent("CandyCane/val/data").path)
        }
        let error = assertPartError(try dataset.parts(category: "Lollipop", split: .train)) {
            $0 == .unknownCategory(root: root.path, category: "Lollipop",
                                   available: ["CandyCane"])
        }
        XCTAssertTrue(error?.description.contains("found: CandyCane") ?? false)
    }

    func testTestPartsAreLabelledByTheirMasks() throws {
        let test = try makeData("Confetto", .testPublic)
        try PartFixtures.writeEyecandiesPart(test, id: "000", mask: false)
        try PartFixtures.writeEyecandiesPart(test, id: "001", mask: true)
        let labelled = try Dataset(root: root).labelledTestParts(category: "Confetto")
        XCTAssertEqual(labelled.map(\.part.id), ["000", "001"])
        XCTAssertEqual(labelled.map(\.isDefective), [false, true])
    }

    func testATestPartWithoutMaskCannotBeEvaluated() throws {
        let test = try makeData("Confetto", .testPublic)
        try PartFixtures.writeEyecandiesPart(test, id: "004")
        let dataset = try Dataset(root: root)
        let part = try XCTUnwrap(dataset.parts(category: "Confetto", split: .testPublic).first)
        XCTAssertNoThrow(try PartLoader.load(part, size: 4, modality: .both))   // inspection
        let mask = test.appendingPathComponent("004_mask").path + ".{png,jpg,jpeg}"
        assertPartError(try dataset.labelledTestParts(category: "Confetto")) {
            $0 == .missingMask(part: "004", path: mask)
        }
    }

    func testMissingRootIsUnreadable() {
        let missing = root.appendingPathComponent("nothing")
        assertPartError(try Dataset(root: missing)) {
            if case .unreadableFolder(missing.path, _) = $0 { return true }
            return false
        }
    }
}
