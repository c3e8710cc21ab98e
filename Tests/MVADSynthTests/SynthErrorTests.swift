// Refused inputs: sizes and settings out of range, no parts, unknown or no defect kinds, bad
// category names, and an existing non-empty category without overwrite.

import Foundation
import MVADInspect
import MVADSynth
import XCTest

final class SynthErrorTests: XCTestCase {
    private func assertThrows(_ expected: SynthError, mentioning text: String,
                              file: StaticString = #filePath, line: UInt = #line,
                              _ body: () throws -> Void) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertEqual(error as? SynthError, expected, file: file, line: line)
            XCTAssertTrue("\(error)".contains(text), "'\(error)' lacks '\(text)'", file: file,
                          line: line)
        }
    }

    func testSizeBelow32IsRefused() throws {
        var settings = SynthSettings()
        settings.size = 31
        assertThrows(.invalidSetting(name: "size", value: "31",
                                     expected: "a whole number of pixels in 32...4096"),
                     mentioning: "32...4096") {
            _ = try SynthDataset(category: "C", masterSeed: 1, settings: settings)
        }
        settings.size = 32
        XCTAssertNoThrow(try SynthDataset(category: "C", masterSeed: 1, settings: settings))
    }

    func testOtherSettingsOutOfRangeAreRefused() {
        var settings = SynthSettings()
        settings.lightElevationDegrees = 90
        XCTAssertThrowsError(try settings.validate()) { error in
            guard case .invalidSetting(let name, _, _)? = error as? SynthError else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertEqual(name, "light_elevation_degrees")
        }
        settings = SynthSettings()
        settings.sensorNoise = .nan
        XCTAssertThrowsError(try settings.validate())
    }

    func testZeroPartsAreRefused() throws {
        assertThrows(.noParts, mentioning: "at least one part") {
            try SplitCounts(train: 0, val: 0, test: 0).validate()
        }
        XCTAssertThrowsError(try SplitCounts(train: -1, val: 0, test: 5).validate())
        XCTAssertNoThrow(try SplitCounts(train: 0, val: 0, test: 1).validate())
    }

    func testUnknownDefectKindIsRefusedWithTheKnownOnes() throws {
        assertThrows(.unknownDefectKind(name: "crack", known: DefectKind.allCases.map(\.rawValue)),
                     mentioning: "stain, discolouration, dent, bump, scratch, missing") {
            _ = try DefectKind.parseList("stain,crack")
        }
        XCTAssertThrowsError(try DefectKind.parseList(""))
        XCTAssertEqual(try DefectKind.parseList("dent, Stain,dent,discoloration"),
                       [.dent, .stain, .discolouration])
        assertThrows(.noDefectKinds, mentioning: "at least one kind") {
            _ = try SynthDataset(category: "C", masterSeed: 1, settings: SynthSettings(),
                                 kinds: [])
        }
    }

    func testBadCategoryNamesAreRefused() {
        for name in ["", "a/b", "..", ".hidden"] {
            XCTAssertThrowsError(try SynthDataset(category: name, masterSeed: 1,
                                                  settings: SynthSettings()), "'\(name)'")
        }
    }

    func testNonEmptyCategoryNeedsOverwrite() throws {
        let root = try SynthTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let dataset = try SynthTestSupport.dataset()
        let counts = SplitCounts(train: 1, val: 0, test: 0)
        try dataset.write(to: root, counts: counts)
        let folder = root.appendingPathComponent("SynthCandy").path
        assertThrows(.categoryNotEmpty(path: folder, entries: ["lights.json", "manifest.json",
                                                               "train"]),
                     mentioning: "--force") {
            try dataset.write(to: root, counts: counts)
        }
        // Overwriting replaces the splits: a smaller run leaves no stale parts behind.
        try dataset.write(to: root, counts: SplitCounts(train: 0, val: 1, test: 0),
                          overwrite: true)
        let entries = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        XCTAssertEqual(entries, ["lights.json", "manifest.json", "val"])
    }
}
