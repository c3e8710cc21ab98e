// Hostile packs with correct checksums (built by RawPack): offsets past the end, overlaps,
// misalignment, huge counts, ranks and extents, a 1 MiB name, an unknown major version.
// Each must give its specific error without allocating what the file claims.

import Foundation
import XCTest
@testable import MVADPack

final class PackHostileTests: PackTestCase {
    /// A RawPack of two f32 tensors, "a" (2 elements at 0) and "b" (1 element at 64).
    private func twoTensors() -> RawPack {
        var raw = RawPack()
        raw.entries = [RawEntry("a", shape: [2], length: 8),
                       RawEntry("b", shape: [1], length: 4, at: 64)]
        raw.data = [UInt8](repeating: 0, count: 68)
        return raw
    }

    private func assertRawFails(
        _ raw: RawPack, _ expected: String, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let target = try write(raw.bytes(), to: "\(expected)-\(UUID().uuidString).mvad")
        assertOpenFails(target, expected, file: file, line: line)
    }

    func testTheBaselineOpens() throws {
        XCTAssertNoThrow(try PackFile(path: try write(twoTensors().bytes(), to: "ok.mvad")))
    }

    func testOffsetsPastTheEnd() throws {
        var raw = twoTensors()
        raw.entries[1].relativeOffset = 128
        try assertRawFails(raw, "tensorOutOfBounds")
        raw.entries[1].relativeOffset = UInt64.max - 63
        try assertRawFails(raw, "tensorOutOfBounds")
        raw = twoTensors()
        raw.entries[1].relativeOffset = 0 &- 64
        try assertRawFails(raw, "tensorOutOfBounds")
    }

    func testSectionsPastTheEnd() throws {
        var image = try read(try writeSample())
        image.putU64(UInt64.max - 4, at: 40)
        image.putU32(crc(Array(image[0..<124])), at: 124)
        assertOpenFails(try write(image, to: "table-far.mvad"), "sectionOutOfBounds")
        image.putU64(3, at: 40)
        image.putU32(crc(Array(image[0..<124])), at: 124)
        assertOpenFails(try write(image, to: "table-early.mvad"), "sectionMisaligned")
    }

    /// Section lengths over their caps are refused before their checksums are computed.
    func testOversizedMetadataAndTable() throws {
        var raw = twoTensors()
        raw.metadata = Array("{\"pad\": \"".utf8)
            + [UInt8](repeating: UInt8(ascii: "x"), count: 16 << 20) + Array("\"}".utf8)
        try assertRawFails(raw, "metadataTooLarge")
        var image = twoTensors().bytes()
        let tableLength = Int(image.u64(at: 48))
        let grown = ((64 << 20) + 8 - tableLength + 63) / 64 * 64
        image.insert(contentsOf: [UInt8](repeating: 0, count: grown),
                     at: Int(image.u64(at: 40)) + tableLength)
        image.putU64(UInt64(tableLength + grown), at: 48)
        image.putU64(image.u64(at: 56) + UInt64(grown), at: 56)
        image.putU64(image.u64(at: 72) + UInt64(grown), at: 72)
        image.putU32(crc(Array(image[0..<124])), at: 124)
        assertOpenFails(try write(image, to: "big-table.mvad"), "tableTooLarge")
    }

    func testOverlappingAndUnsortedTensors() throws {
        var raw = twoTensors()
        raw.entries[0].shape = [17]
        raw.entries[0].length = 68
        try assertRawFails(raw, "tensorsOverlapOrUnsorted")
        raw = twoTensors()
        raw.entries.swapAt(0, 1)
        try assertRawFails(raw, "tensorsOverlapOrUnsorted")
    }

    func testMisalignedOffset() throws {
        var raw = twoTensors()
        raw.entries[1].relativeOffset = 60
        try assertRawFails(raw, "tensorMisaligned")
    }

    func testHugeTableCountAllocatesNothing() throws {
        var raw = twoTensors()
        raw.countOverride = 1 << 40
        try assertRawFails(raw, "tensorCountTooLarge")
        raw.countOverride = 3
        try assertRawFails(raw, "entryTruncated")
        raw.countOverride = 1
        try assertRawFails(raw, "tableTrailingBytes")
    }

    func testRankNineAndHugeExtents() throws {
        var raw = twoTensors()
        raw.entries[0].shape = [1, 1, 1, 1, 1, 1, 1, 1, 2]
        try assertRawFails(raw, "rankTooLarge")
        raw = twoTensors()
        raw.entries[0].shape = [1 << 62]
        try assertRawFails(raw, "sizeOverflow")
        raw.entries[0].shape = [1 << 63]
        try assertRawFails(raw, "extentTooLarge")
        raw.entries[0].shape = [1 << 31, 1 << 31, 4]
        try assertRawFails(raw, "sizeOverflow")
        raw.entries[0].shape = [3]
        try assertRawFails(raw, "byteLengthMismatch")
    }

    func testNamesAreCappedUniqueAndUTF8() throws {
        var raw = twoTensors()
        raw.entries[0].name = [UInt8](repeating: UInt8(ascii: "n"), count: 1 << 20)
        try assertRawFails(raw, "nameTooLong")
        raw.entries[0].name = []
        try assertRawFails(raw, "emptyName")
        raw.entries[0].name = [0xC3, 0x28]
        try assertRawFails(raw, "nameNotUTF8")
        raw.entries[0].name = Array("b".utf8)
        try assertRawFails(raw, "duplicateName")
    }

    func testUnknownCodes() throws {
        var raw = twoTensors()
        raw.entries[0].dtype = 9
        try assertRawFails(raw, "unknownDType")
        raw = twoTensors()
        raw.entries[0].scheme = 7
        try assertRawFails(raw, "unknownQuantization")
    }

    func testQuantisedEntryWithoutItsScales() throws {
        var raw = twoTensors()
        raw.entries[0] = RawEntry("q", shape: [2], length: 2)
        raw.entries[0].dtype = 3
        raw.entries[0].scheme = 1
        raw.entries[0].scales = Array("missing".utf8)
        try assertRawFails(raw, "scalesNotFound")
    }

    func testVersionFlagsAndHeaderFields() throws {
        var raw = twoTensors()
        raw.major = 2
        try assertRawFails(raw, "unsupportedMajorVersion")
        raw = twoTensors()
        raw.minor = 7
        XCTAssertEqual(try PackFile(path: try write(raw.bytes(), to: "minor.mvad")).minorVersion, 7)
        raw.flags = 1
        try assertRawFails(raw, "unknownFlags")
    }

    func testMetadataMustBeAUTF8JSONObject() throws {
        var raw = twoTensors()
        raw.metadata = Array("[1, 2]".utf8)
        try assertRawFails(raw, "metadataNotJSONObject")
        raw.metadata = Array("{\"a\": ".utf8)
        try assertRawFails(raw, "metadataNotJSONObject")
        raw.metadata = [0x7B, 0xFF, 0x7D]
        try assertRawFails(raw, "metadataNotUTF8")
    }

    func testErrorsNameTheFileAndTheTensor() throws {
        var raw = twoTensors()
        raw.entries[1].relativeOffset = 60
        let target = try write(raw.bytes(), to: "named.mvad")
        let error = try XCTUnwrap(openError(target))
        XCTAssertTrue(error.description.hasPrefix(target + ": tensor 'b'"), error.description)
        XCTAssertTrue(error.description.contains("expected a multiple of 64"), error.description)
    }
}
