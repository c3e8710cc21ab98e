// Round-trip tests of PackWriter and PackFile: values, shapes, dtypes, schemes, metadata, the
// 64-byte alignment of every tensor, cheap opening, and the writer's refusals.

import Foundation
import MVADEngine
import XCTest
@testable import MVADPack

final class PackRoundTripTests: PackTestCase {
    func testValuesShapesAndDtypesSurvive() throws {
        let pack = try PackFile(path: try writeSample())
        XCTAssertEqual(pack.names, ["conv.weight", "conv.bias", "scalar", "q.channel",
                                    "q.channel.scales", "q.blocks", "q.blocks.scales",
                                    "indices", "mask", "empty"])
        XCTAssertEqual(try pack.floatTensor("conv.weight"),
                       Tensor(shape: [2, 3], scalars: [1, -2, 3.5, 0, 1e-3, 7]))
        XCTAssertEqual(try pack.floatTensor("conv.bias", verify: true),
                       Tensor(shape: [3], scalars: [0.5, -0.25, 2]))
        XCTAssertEqual(try pack.floatTensor("scalar"), Tensor(shape: [], scalars: [42]))
        XCTAssertEqual(try pack.floatTensor("empty").shape, [0, 5])

        let blocks = try XCTUnwrap(pack.entry("q.blocks"))
        XCTAssertEqual(blocks.dtype, .int8)
        XCTAssertEqual(blocks.quantization, .int8Blocks32)
        XCTAssertEqual(blocks.scalesName, "q.blocks.scales")
        XCTAssertEqual(pack.entry("q.blocks.scales")?.dtype, .float16)
        XCTAssertEqual(pack.entry("q.channel")?.quantization, .int8PerChannel)
        XCTAssertEqual(pack.entry("mask")?.shape, [1, 1, 1, 1, 1, 1, 1, 3])
        XCTAssertEqual(try pack.withUnsafeBytes("q.blocks", verify: true) { Array($0) },
                       (0..<128).map { UInt8($0) })
        XCTAssertEqual(try pack.withUnsafeBytes("indices") { Array($0) },
                       [1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF])
        XCTAssertEqual(pack.majorVersion, 1)
        XCTAssertEqual(pack.minorVersion, 0)
    }

    func testEveryTensorIs64ByteAlignedInMemoryAndInTheFile() throws {
        let pack = try PackFile(path: try writeSample())
        for name in pack.names {
            let address = try pack.withUnsafeBytes(name) { Int(bitPattern: $0.baseAddress) }
            XCTAssertEqual(address % 64, 0, name)
            XCTAssertEqual((pack.entry(name)?.offset ?? 1) % 64, 0, name)
        }
    }

    func testMetadataSurvives() throws {
        let pack = try PackFile(path: try writeSample())
        let object = pack.metadataObject()
        let expected = try JSONSerialization.data(
            withJSONObject: Self.sampleMetadata, options: [.sortedKeys])
        let found = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        XCTAssertEqual(found, expected)
        XCTAssertEqual(object["prompt"] as? String, "a photo of a screw")
    }

    func testVerifyCountsEverything() throws {
        let pack = try PackFile(path: try writeSample())
        let result = try pack.verify()
        XCTAssertEqual(result.tensorCount, 10)
        XCTAssertEqual(result.tensorBytes, pack.entries.reduce(0) { $0 + $1.byteLength })
        let fileSize = try read(pack.path).count
        XCTAssertEqual(PackFormat.headerSize + pack.metadataSection.count
                       + pack.tableSection.count + result.tensorBytes + result.paddingBytes,
                       fileSize)
    }

    func testRawPackFromTheSpecificationOpens() throws {
        var raw = RawPack()
        raw.entries = [RawEntry("w", shape: [2], length: 8),
                       RawEntry("b", shape: [1], length: 4, at: 64)]
        raw.data = [UInt8](repeating: 0, count: 68)
        raw.data.replaceSubrange(0..<8, with: [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40])
        let pack = try PackFile(path: try write(raw.bytes(), to: "raw.mvad"))
        XCTAssertEqual(try pack.floatTensor("w").scalars, [1, 2])
        XCTAssertEqual(try pack.verify().tensorCount, 2)
    }

    func testChecksumIsZlibCRC32() {
        let check = Array("123456789".utf8)
        XCTAssertEqual(Checksum.crc32(check), 0xCBF4_3926)
        XCTAssertEqual(crc(check), 0xCBF4_3926)
        XCTAssertEqual(Checksum.crc32([]), 0)
    }

    /// The worked example of docs/FORMAT.md, written by PackWriter, byte for byte in layout.
    func testWriterMatchesTheWorkedExample() throws {
        var writer = PackWriter(metadataJSON: Data("{\"a\":1}".utf8))
        writer.add("w", tensor: Tensor(shape: [2], scalars: [1, 2]))
        let target = path("example.mvad")
        try writer.write(to: target)
        let image = try read(target)
        XCTAssertEqual(image.count, 200)
        XCTAssertEqual(stride(from: 24, to: 80, by: 8).map { image.u64(at: $0) },
                       [128, 7, 136, 56, 192, 8, 200])
        XCTAssertEqual(Array(image[136..<152]),
                       [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0, 0])
        XCTAssertEqual(Array(image[192..<200]), [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40])
        XCTAssertEqual(Array(image[184..<192]), Array("w".utf8) + [0, 0, 0, 0, 0, 0, 0])
    }

    func testAccessErrors() throws {
        let pack = try PackFile(path: try writeSample())
        assertThrows("tensorNotFound") { _ = try pack.floatTensor("nope") }
        assertThrows("notAFloatTensor") { _ = try pack.floatTensor("q.channel") }
        assertThrows("notAFloatTensor") { _ = try pack.floatTensor("indices") }
    }

    /// A 1 GiB pack (a sparse file: the data is never read) opens without touching its data.
    func testOpeningIsIndependentOfDataSize() throws {
        var raw = RawPack()
        let tensorBytes: UInt64 = 1 << 20
        raw.entries = (0..<1024).map { index in
            RawEntry("tensor.\(index)", shape: [tensorBytes / 4], length: tensorBytes,
                     at: UInt64(index) * tensorBytes)
        }
        raw.fillChecksums = false
        var image = raw.bytes()
        let dataOffset = Int(image.u64(at: 56))
        let fileLength = UInt64(dataOffset) + 1024 * tensorBytes
        image.putU64(1024 * tensorBytes, at: 64)
        image.putU64(fileLength, at: 72)
        image.putU32(crc(Array(image[0..<124])), at: 124)
        let target = try write(image, to: "large.mvad")
        XCTAssertEqual(truncate(target, off_t(fileLength)), 0)

        let start = Date()
        let pack = try PackFile(path: target)
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertEqual(pack.entries.count, 1024)
        XCTAssertLessThan(elapsed, 0.25, "opening a 1 GiB pack took \(elapsed) s")
    }

    func testWriterRefusesInvalidPacks() throws {
        let target = path("refused.mvad")
        let cases: [(String, (inout PackWriter) -> Void)] = [
            ("duplicateName", { $0.add("a", tensor: Tensor(zeros: [1]))
                                $0.add("a", tensor: Tensor(zeros: [1])) }),
            ("emptyName", { $0.add("", tensor: Tensor(zeros: [1])) }),
            ("nameTooLong", { $0.add(String(repeating: "n", count: 1025),
                                     tensor: Tensor(zeros: [1])) }),
            ("rankTooLarge", { $0.add("r", tensor: Tensor(zeros: [1, 1, 1, 1, 1, 1, 1, 1, 1])) }),
            ("byteLengthMismatch", { $0.add("b", dtype: .int32, shape: [2], bytes: [0, 0]) }),
            ("scalesNotFound", { $0.add("q", dtype: .int8, shape: [2], bytes: [1, 2],
                                        quantization: .int8PerChannel, scales: "missing") }),
            ("quantizedDTypeMismatch", { $0.add("q", dtype: .uint8, shape: [2], bytes: [1, 2],
                                                quantization: .int8PerChannel, scales: "s") }),
            ("shapeUnfitForScheme", { $0.add("q", dtype: .int8, shape: [1, 3], bytes: [1, 2, 3],
                                             quantization: .int8Blocks32, scales: "s") }),
            ("scalesShapeMismatch", { $0.add("q", dtype: .int8, shape: [2], bytes: [1, 2],
                                             quantization: .int8PerChannel, scales: "s")
                                      $0.add("s", tensor: Tensor(zeros: [3])) }),
            ("scalesDTypeMismatch", { $0.add("q", dtype: .int8, shape: [2], bytes: [1, 2],
                                             quantization: .int8PerChannel, scales: "s")
                                      $0.add("s", tensor: Tensor(zeros: [2]), as: .float16) }),
            ("unexpectedScalesName", { $0.add("p", dtype: .uint8, shape: [1], bytes: [1],
                                              scales: "s") }),
            ("invalidMetadataJSON", { $0.metadataJSON = Data("[1, 2]".utf8) }),
        ]
        for (expected, build) in cases {
            var writer = PackWriter()
            build(&writer)
            assertThrows(expected == "invalidMetadataJSON" ? "metadataNotJSONObject" : expected) {
                try writer.write(to: target)
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: target), expected)
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder)
        XCTAssertEqual(leftovers, [], "no temporary file may be left behind")
    }
}
