// Shared helpers of the imaging and part tests: the fixtures written by
// tools/reference/make_image_fixtures.py, scratch folders, a seeded generator and CRC-32.

import Foundation
import XCTest
@testable import MVADInspect

enum ImageFixtures {
    /// Tests/MVADInspectTests/Fixtures/images, next to this source file.
    static let folder: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().appendingPathComponent("Fixtures/images").path

    static func path(_ name: String) -> String { folder + "/" + name }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(name))))
    }

    static func decode(_ name: String) throws -> Image {
        try ImageDecoder.decode(path: path(name))
    }

    /// One entry of expected.json: the samples a fixture must decode to.
    struct Expected: Decodable {
        let width: Int
        let height: Int
        let channels: Int
        let bitDepth: Int
        let samples: [Int]

        enum CodingKeys: String, CodingKey {
            case width, height, channels, samples
            case bitDepth = "bit_depth"
        }
    }

    /// Pillow's hashes of one shared Eyecandies view.
    struct EyecandiesView: Decodable {
        let decodedHash: String
        let bicubicHash: String

        enum CodingKeys: String, CodingKey {
            case decodedHash = "decoded_fnv1a64"
            case bicubicHash = "bicubic_256_fnv1a64"
        }
    }

    struct EyecandiesReference: Decodable {
        let views: [String: EyecandiesView]
    }

    struct Document: Decodable {
        let images: [String: Expected]
        let eyecandies: EyecandiesReference?
    }

    static func document() throws -> Document {
        let data = try Data(contentsOf: URL(fileURLWithPath: path("expected.json")))
        return try JSONDecoder().decode(Document.self, from: data)
    }

    /// A new empty folder under the system's temporary folder; the caller removes it.
    static func scratchFolder() throws -> URL {
        let url = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("mvad-imaging-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// The samples of an image as Ints, in storage order.
func sampleValues(_ image: Image) -> [Int] {
    switch image.samples {
    case .uint8(let values): return values.map(Int.init)
    case .uint16(let values): return values.map(Int.init)
    }
}

/// FNV-1a 64-bit hash of bytes, as the fixture script computes it, in 16 hex digits.
func fnv1a64(_ bytes: [UInt8]) -> String {
    var value: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in bytes {
        value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
    }
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}

/// SplitMix64: a small seeded generator, so that the hostile-bytes cases are reproducible.
struct ImageTestRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

/// CRC-32 (the PNG chunk checksum), for building and repairing test PNGs.
func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 {
            crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1
        }
    }
    return ~crc
}

/// A PNG chunk: length, type, data, CRC.
func pngChunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
    let body = Array(type.utf8) + data
    return bigEndian(UInt32(data.count)) + body + bigEndian(crc32(body[...]))
}

func bigEndian(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF),
     UInt8(value & 0xFF)]
}

/// Asserts that `body` throws an ImageError matching `matches`, and returns it.
@discardableResult
func assertImageError<T>(_ body: @autoclosure () throws -> T,
                         file: StaticString = #filePath, line: UInt = #line,
                         _ matches: (ImageError) -> Bool) -> ImageError? {
    do {
        _ = try body()
        XCTFail("expected an ImageError, got a result", file: file, line: line)
    } catch let error as ImageError {
        XCTAssertTrue(matches(error), "unexpected error: \(error)", file: file, line: line)
        return error
    } catch {
        XCTFail("expected an ImageError, got \(type(of: error)): \(error)", file: file, line: line)
    }
    return nil
}
