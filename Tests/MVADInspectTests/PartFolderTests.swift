// Part folder tests: Eyecandies naming with several parts per folder, plain naming, ignored
// files, numeric ordering, and the ambiguous / mixed naming / unreadable folder errors.

import Foundation
import XCTest
@testable import MVADInspect

final class PartFolderTests: XCTestCase {
    private var folder = URL(fileURLWithPath: NSTemporaryDirectory())

    override func setUpWithError() throws {
        folder = try ImageFixtures.scratchFolder()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    func testEyecandiesFolderListsEveryPartSorted() throws {
        try PartFixtures.writeEyecandiesPart(folder, id: "010")
        try PartFixtures.writeEyecandiesPart(folder, id: "000", mask: true)
        try PartFixtures.writeEyecandiesPart(folder, id: "001", ext: "JPG")
        try PartFixtures.writeView(folder, "000_depth.png")
        try Data("a: 1\n".utf8).write(to: folder.appendingPathComponent("000_info.yaml"))
        try Data().write(to: folder.appendingPathComponent(".000_image_0.png.tmp-1-2"))
        try FileManager.default.createDirectory(
            at: folder.appendingPathComponent("002_image_0.png"), withIntermediateDirectories: true)

        let parts = try PartFolder.parts(in: folder)
        XCTAssertEqual(parts.map(\.id), ["000", "001", "010"])
        let first = parts[0]
        XCTAssertEqual(first.naming, .eyecandies)
        XCTAssertEqual(first.lights.map { $0?.lastPathComponent },
                       (0..<6).map { "000_image_\($0).png" })
        XCTAssertEqual(first.normals?.lastPathComponent, "000_normals.png")
        XCTAssertEqual(first.mask?.lastPathComponent, "000_mask.png")
        XCTAssertEqual(parts[1].normals?.lastPathComponent, "001_normals.JPG")
        XCTAssertNil(parts[1].mask)
    }

    /// The same part given twice is found whether it is listed through symbolic links, hard
    /// links or as a copy; a part of its own is not, even when one of its views is identical.
    func testOverlappingPartsAreFoundThroughLinksAndCopies() throws {
        let good = folder.appendingPathComponent("good")
        let bad = folder.appendingPathComponent("bad")
        let files = FileManager.default
        try files.createDirectory(at: good, withIntermediateDirectories: true)
        try files.createDirectory(at: bad, withIntermediateDirectories: true)
        try PartFixtures.writeEyecandiesPart(good, id: "000")
        let views = (0..<6).map { "image_\($0).png" } + ["normals.png"]
        func ownPart(_ base: URL, _ id: String, value: UInt8) throws {
            for name in views { try PartFixtures.writeView(base, "\(id)_\(name)", value: value) }
        }
        try ownPart(good, "001", value: 90)
        try ownPart(bad, "000", value: 200)                          // own files, same id
        for name in views {
            try files.createSymbolicLink(at: bad.appendingPathComponent("007_" + name),
                                         withDestinationURL: good.appendingPathComponent("001_" + name))
            try files.linkItem(at: good.appendingPathComponent("000_" + name),
                               to: bad.appendingPathComponent("008_" + name))
            try files.copyItem(at: good.appendingPathComponent("001_" + name),
                               to: bad.appendingPathComponent("009_" + name))
        }
        try ownPart(bad, "010", value: 150)                          // one view the same as 001's
        try files.removeItem(at: bad.appendingPathComponent("010_image_0.png"))
        try files.copyItem(at: good.appendingPathComponent("001_image_0.png"),
                           to: bad.appendingPathComponent("010_image_0.png"))

        let goodParts = try PartFolder.parts(in: good)
        let badParts = try PartFolder.parts(in: bad)
        XCTAssertEqual(badParts.map(\.id), ["000", "007", "008", "009", "010"])
        XCTAssertEqual(PartViews.overlapping(goodParts, badParts), ["007", "008", "009"])
        XCTAssertEqual(PartViews.overlapping(goodParts, goodParts), ["000", "001"])
        XCTAssertEqual(PartViews.overlapping([], badParts), [])
    }

    func testPlainFolderIsOnePartNamedAfterTheFolder() throws {
        for light in 0..<6 { try PartFixtures.writeView(folder, "image_\(light).jpeg") }
        try PartFixtures.writeView(folder, "normals.Png")
        try PartFixtures.writeMask(folder, "mask.png", defect: false)
        try PartFixtures.writeView(folder, "depth.png")

        let parts = try PartFolder.parts(in: folder)
        XCTAssertEqual(parts.count, 1)
        XCTAssertEqual(parts.first?.id, folder.lastPathComponent)
        XCTAssertEqual(parts.first?.naming, .plain)
        XCTAssertEqual(parts.first?.lights.compactMap { $0?.lastPathComponent },
                       (0..<6).map { "image_\($0).jpeg" })
        XCTAssertEqual(parts.first?.normals?.lastPathComponent, "normals.Png")
        XCTAssertNotNil(parts.first?.mask)
    }

    func testIdsSortNumerically() throws {
        for id in ["10", "9", "0100"] { try PartFixtures.writeView(folder, "\(id)_normals.png") }
        XCTAssertEqual(try PartFolder.parts(in: folder).map(\.id), ["9", "10", "0100"])
    }

    func testMissingViewsArePathsWithTheExtensionsLookedFor() throws {
        try PartFixtures.writeView(folder, "007_image_0.png")
        let part = try XCTUnwrap(PartFolder.part(id: "007", in: folder))
        XCTAssertNil(part.lights[1])
        XCTAssertEqual(part.path(of: .light(1)),
                       folder.appendingPathComponent("007_image_1").path + ".{png,jpg,jpeg}")
        XCTAssertEqual(part.path(of: .light(0)),
                       folder.appendingPathComponent("007_image_0.png").path)
    }

    func testTwoFilesForOneViewAreAmbiguous() throws {
        try PartFixtures.writeView(folder, "000_image_2.png")
        try PartFixtures.writeView(folder, "000_image_2.jpg")
        let error = assertPartError(try PartFolder.parts(in: folder)) {
            $0 == .ambiguousView(part: "000", files: [
                folder.appendingPathComponent("000_image_2.jpg").path,
                folder.appendingPathComponent("000_image_2.png").path])
        }
        XCTAssertTrue(error?.description.contains("000_image_2.jpg") ?? false)
    }

    func testMixedNamingIsAnError() throws {
        try PartFixtures.writeView(folder, "image_0.png")
        try PartFixtures.writeView(folder, "000_image_0.png")
        assertPartError(try PartFolder.parts(in: folder)) {
            $0 == .mixedNaming(folder: folder.path, plainFile: "image_0.png",
                               eyecandiesFile: "000_image_0.png")
        }
    }

    func testUnreadableFolderReportsTheSystemReason() {
        let missing = folder.appendingPathComponent("absent")
        let error = assertPartError(try PartFolder.parts(in: missing)) {
            $0 == .unreadableFolder(path: missing.path, reason: "No such file or directory")
        }
        XCTAssertEqual(error?.description,
                       "Cannot list part folder '\(missing.path)': No such file or directory.")
    }
}
