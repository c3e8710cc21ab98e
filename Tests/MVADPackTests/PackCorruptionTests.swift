// Damage tests: a valid pack cut short at every section boundary (and a few bytes either side),
// and every single byte of it flipped; each must give its specific error, never a crash.

import Foundation
import XCTest
@testable import MVADPack

final class PackCorruptionTests: PackTestCase {
    /// Section boundaries of the sample pack, read from its own header.
    private func boundaries(_ image: [UInt8]) -> [Int] {
        var points = [0, 8, 16, 124, 128]
        for field in stride(from: 24, to: 72, by: 16) {
            let offset = Int(image.u64(at: field))
            points += [offset, offset + Int(image.u64(at: field + 8))]
        }
        return points
    }

    func testTruncationAtEverySectionBoundaryGivesASpecificError() throws {
        let source = try writeSample()
        let image = try read(source)
        let pack = try PackFile(path: source)
        var lengths = Set<Int>()
        let tensorEdges = pack.entries.flatMap { [$0.offset, $0.byteRange.upperBound] }
        for point in boundaries(image) + tensorEdges {
            for delta in -3...3 { lengths.insert(point + delta) }
        }
        for length in lengths.sorted() where length >= 0 && length < image.count {
            let cut = try write(Array(image[0..<length]), to: "cut-\(length).mvad")
            let expected = length == 0 ? "emptyFile" : length < 128 ? "fileTooShort" : "truncated"
            assertOpenFails(cut, expected)
            guard length >= 128, case let .truncated(_, _, actual, section)? = openError(cut)
            else { continue }
            XCTAssertEqual(actual, length)
            let expectedSection = length < pack.metadataSection.upperBound ? "metadata block"
                : length < pack.tableSection.upperBound ? "tensor table" : "data section"
            XCTAssertEqual(section, expectedSection, "cut at \(length)")
        }
    }

    func testTrailingBytesAreRefused() throws {
        let image = try read(try writeSample())
        assertOpenFails(try write(image + [0], to: "long.mvad"), "trailingBytes")
    }

    func testEveryFlippedHeaderByteIsCaughtOnOpen() throws {
        let image = try read(try writeSample())
        for index in 0..<128 {
            var damaged = image
            damaged[index] ^= 0x10
            let expected = index < 8 ? "badMagic"
                : index < 12 ? "unsupportedMajorVersion" : "headerChecksumMismatch"
            assertOpenFails(try write(damaged, to: "header-\(index).mvad"), expected)
        }
    }

    func testEveryFlippedMetadataAndTableByteIsCaughtOnOpen() throws {
        let source = try writeSample()
        let image = try read(source)
        let pack = try PackFile(path: source)
        for (range, expected) in [(pack.metadataSection, "metadataChecksumMismatch"),
                                  (pack.tableSection, "tableChecksumMismatch")] {
            for index in range {
                var damaged = image
                damaged[index] ^= 0x01
                assertOpenFails(try write(damaged, to: "flip-\(index).mvad"), expected)
            }
        }
    }

    /// Tensor bytes are not read on open; verify() (and verify-on-access) find the damage.
    /// Padding is checked by verify() too: every byte outside header, metadata and table.
    func testEveryFlippedDataOrPaddingByteIsCaughtByVerify() throws {
        let source = try writeSample()
        let image = try read(source)
        let reference = try PackFile(path: source)
        let covered = [0..<128, reference.metadataSection, reference.tableSection]
        for index in 128..<image.count where !covered.contains(where: { $0.contains(index) }) {
            var damaged = image
            damaged[index] ^= 0x80
            let pack = try PackFile(path: try write(damaged, to: "data-\(index).mvad"))
            let owner = pack.entries.first { $0.byteRange.contains(index) }
            assertThrows(owner == nil ? "paddingNotZero" : "dataChecksumMismatch") {
                _ = try pack.verify()
            }
            if let owner {
                assertThrows("dataChecksumMismatch") { try pack.verify(owner.name) }
                assertThrows("dataChecksumMismatch") {
                    _ = try pack.withUnsafeBytes(owner.name, verify: true) { $0.count }
                }
            }
        }
    }

    func testZeroByteFileAndDirectory() throws {
        assertOpenFails(try write([], to: "empty.mvad"), "emptyFile")
        assertOpenFails(folder, "notARegularFile")
        assertOpenFails(path("missing.mvad"), "cannotOpen")
    }
}
