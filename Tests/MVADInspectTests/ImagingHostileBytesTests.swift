// Hostile-bytes tests: 200 truncated or bit-flipped copies each of a small PNG and a small JPEG
// must decode or throw an ImageError; anything else (a crash, another error) fails.

import XCTest
@testable import MVADInspect

final class ImageHostileBytesTests: XCTestCase {
    func testDamagedPNGsDecodeOrThrowImageErrors() throws {
        let original = try ImageFixtures.bytes("noise_37x29.png")
        var random = ImageTestRandom(seed: 0x5EED_0001)
        var outcomes = (decoded: 0, refused: 0)
        for round in 0..<200 {
            var bytes = damaged(original, round: round, random: &random)
            if round % 4 == 3 {
                repairChunkChecksums(&bytes)     // let damage reach zlib and libpng's filters
            }
            try expectDecodeOrImageError(bytes, round: round, outcomes: &outcomes)
        }
        XCTAssertGreaterThan(outcomes.refused, 0)
    }

    func testDamagedJPEGsDecodeOrThrowImageErrors() throws {
        let original = try ImageFixtures.bytes("rgb.jpg")
        var random = ImageTestRandom(seed: 0x5EED_0002)
        var outcomes = (decoded: 0, refused: 0)
        for round in 0..<200 {
            let bytes = damaged(original, round: round, random: &random)
            try expectDecodeOrImageError(bytes, round: round, outcomes: &outcomes)
        }
        XCTAssertGreaterThan(outcomes.refused, 0)
    }

    /// Even rounds truncate at a random length; odd rounds flip 1 to 8 random bits.
    private func damaged(_ original: [UInt8], round: Int,
                         random: inout ImageTestRandom) -> [UInt8] {
        if round % 2 == 0 {
            return Array(original.prefix(Int.random(in: 0..<original.count, using: &random)))
        }
        var bytes = original
        for _ in 0..<Int.random(in: 1...8, using: &random) {
            let index = Int.random(in: 0..<bytes.count, using: &random)
            bytes[index] ^= UInt8(1) << UInt8.random(in: 0...7, using: &random)
        }
        return bytes
    }

    private func expectDecodeOrImageError(_ bytes: [UInt8], round: Int,
                                          outcomes: inout (decoded: Int, refused: Int)) throws {
        do {
            let image = try ImageDecoder.decode(bytes, source: "round \(round)")
            XCTAssertEqual(image.samples.count, image.width * image.height * image.channels)
            outcomes.decoded += 1
        } catch let error as ImageError {
            XCTAssertFalse(error.description.isEmpty)
            outcomes.refused += 1
        }
    }

    /// Recomputes the CRC of every complete chunk, so that flipped bits inside a chunk are not
    /// caught by the checksum but by the decoder behind it.
    private func repairChunkChecksums(_ bytes: inout [UInt8]) {
        var offset = 8
        while offset + 12 <= bytes.count {
            let length = bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
            let end = offset + 12 + length
            guard end <= bytes.count else { return }
            let checksum = bigEndian(crc32(bytes[(offset + 4)..<(end - 4)]))
            bytes.replaceSubrange((end - 4)..<end, with: checksum)
            offset = end
        }
    }
}
