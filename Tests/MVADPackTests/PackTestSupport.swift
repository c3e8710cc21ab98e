// Test support for the .mvad pack tests: a temporary folder, a sample pack written by
// PackWriter, and RawPack, an independent encoder written from docs/FORMAT.md that can also
// produce hostile files (any count, rank, offset or length) with correct checksums.

import Foundation
import MVADEngine
import XCTest
@testable import MVADPack

class PackTestCase: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("mvad-pack-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    func path(_ name: String) -> String { folder + "/" + name }

    @discardableResult
    func write(_ bytes: [UInt8], to name: String) throws -> String {
        let target = path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        return target
    }

    func read(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// The metadata of the sample pack: nested like a converter's.
    static var sampleMetadata: [String: Any] { [
        "architecture": ["unet": ["block_out_channels": [320, 640], "layers": 2]],
        "timesteps": [1, 101, 201],
        "image_size": 512,
        "prompt": "a photo of a screw",
        "threshold": ["value": 0.25, "provenance": "validation split, 99th percentile"],
        "converter_version": "0.1.0",
    ] }

    /// A pack holding every dtype and both quantisation schemes, written by PackWriter.
    func writeSample(_ name: String = "sample.mvad") throws -> String {
        var writer = try PackWriter(metadata: Self.sampleMetadata)
        writer.add("conv.weight", tensor: Tensor(shape: [2, 3], scalars: [1, -2, 3.5, 0, 1e-3, 7]))
        writer.add("conv.bias", tensor: Tensor(shape: [3], scalars: [0.5, -0.25, 2]),
                   as: .float16)
        writer.add("scalar", tensor: Tensor(shape: [], scalars: [42]))
        writer.add("q.channel", dtype: .int8, shape: [2, 4], bytes: [1, 2, 3, 4, 255, 254, 0, 9],
                   quantization: .int8PerChannel, scales: "q.channel.scales")
        writer.add("q.channel.scales", tensor: Tensor(shape: [2], scalars: [0.5, 0.25]))
        writer.add("q.blocks", dtype: .int8, shape: [2, 64],
                   bytes: (0..<128).map { UInt8($0) }, quantization: .int8Blocks32,
                   scales: "q.blocks.scales")
        writer.add("q.blocks.scales", tensor: Tensor(shape: [2, 2], scalars: [1, 2, 3, 4]),
                   as: .float16)
        writer.add("indices", dtype: .int32, shape: [2],
                   bytes: [1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF])
        writer.add("mask", dtype: .uint8, shape: [1, 1, 1, 1, 1, 1, 1, 3], bytes: [0, 1, 2])
        writer.add("empty", dtype: .float32, shape: [0, 5], bytes: [])
        let target = path(name)
        try writer.write(to: target)
        return target
    }

    /// The PackError thrown by opening `path`, failing the test when none is.
    func openError(
        _ path: String, file: StaticString = #filePath, line: UInt = #line
    ) -> PackError? {
        do {
            _ = try PackFile(path: path)
            XCTFail("opening \(path) succeeded; expected an error", file: file, line: line)
        } catch let error as PackError {
            return error
        } catch {
            XCTFail("expected a PackError, got \(error)", file: file, line: line)
        }
        return nil
    }

    /// Asserts that `body` throws a PackError of the case named `expected`.
    func assertThrows(
        _ expected: String, file: StaticString = #filePath, line: UInt = #line,
        _ body: () throws -> Void
    ) {
        do {
            try body()
            XCTFail("no error; expected \(expected)", file: file, line: line)
        } catch let error as PackError {
            XCTAssertEqual(caseName(error), expected, "\(error)", file: file, line: line)
            XCTAssertFalse(error.description.isEmpty, file: file, line: line)
        } catch {
            XCTFail("expected a PackError, got \(error)", file: file, line: line)
        }
    }

    /// Asserts that opening `path` throws a PackError of the case named `expected`.
    func assertOpenFails(
        _ path: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        assertThrows(expected, file: file, line: line) { _ = try PackFile(path: path) }
    }
}

/// The name of an error's case, e.g. "truncated" (every PackError case has a payload).
func caseName(_ error: PackError) -> String {
    Mirror(reflecting: error).children.first?.label ?? "\(error)"
}

/// CRC-32 (reflected polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF), one table
/// lookup per byte: a twin of zlib's, so the tests do not trust the code under test.
func crc(_ bytes: [UInt8]) -> UInt32 {
    var value: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        value = crcTable[Int((value ^ UInt32(byte)) & 0xFF)] ^ (value >> 8)
    }
    return ~value
}

/// The CRC of each byte value, shifted through eight rounds of the polynomial.
private let crcTable: [UInt32] = (0..<256).map { index in
    var value = UInt32(index)
    for _ in 0..<8 { value = value & 1 == 1 ? (value >> 1) ^ 0xEDB8_8320 : value >> 1 }
    return value
}

extension Array where Element == UInt8 {
    mutating func putU32(_ value: UInt32, at offset: Int) {
        Swift.withUnsafeBytes(of: value.littleEndian) {
            replaceSubrange(offset..<offset + 4, with: $0)
        }
    }

    mutating func putU64(_ value: UInt64, at offset: Int) {
        Swift.withUnsafeBytes(of: value.littleEndian) {
            replaceSubrange(offset..<offset + 8, with: $0)
        }
    }

    func u64(at offset: Int) -> UInt64 {
        self[offset..<offset + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    mutating func appendU32(_ value: UInt32) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    mutating func appendU64(_ value: UInt64) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    mutating func padZeros(to alignment: Int) {
        let padding = (alignment - count % alignment) % alignment
        append(contentsOf: [UInt8](repeating: 0, count: padding))
    }
}
