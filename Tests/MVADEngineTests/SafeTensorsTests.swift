// Tests of the safetensors reader and writer and of the diffusers-folder WeightStore. Every
// file is built byte by byte here and written to a fresh temporary folder.

import Foundation
import XCTest
@testable import MVADEngine

/// A temporary folder and helpers to build safetensors byte images in it.
class SafeTensorsTestCase: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("mvad-safetensors-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// A file image: little-endian `lengthPrefix` (default: the header's byte count), the
    /// header text, then `data`.
    func image(_ header: String, data: [UInt8] = [], lengthPrefix: UInt64? = nil) -> [UInt8] {
        let headerBytes = Array(header.utf8)
        let length = lengthPrefix ?? UInt64(headerBytes.count)
        return withUnsafeBytes(of: length.littleEndian, Array.init) + headerBytes + data
    }

    /// The path of `name` in the test folder, with its parent folders created.
    func path(_ name: String) throws -> String {
        let path = folder + "/" + name
        let parent = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        return path
    }

    /// Writes `bytes` to `name` in the test folder and returns its path.
    @discardableResult
    func write(_ bytes: [UInt8], to name: String) throws -> String {
        let path = try path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Writes F32 tensors with the writer to `name` in the test folder.
    @discardableResult
    func save(_ tensors: [(name: String, tensor: Tensor)], to name: String) throws -> String {
        let path = try path(name)
        try SafeTensorsWriter.write(tensors, to: path)
        return path
    }

    func writeText(_ text: String, to name: String) throws {
        try write(Array(text.utf8), to: name)
    }

    func zeros(_ count: Int) -> [UInt8] { [UInt8](repeating: 0, count: count) }

    func hex(_ bits: UInt16) -> String { "0x" + String(bits, radix: 16) }

    /// Little-endian bytes of Float32 values.
    func float32Bytes(_ values: [Float]) -> [UInt8] {
        values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
    }

    /// Little-endian bytes of 16-bit patterns.
    func bits16Bytes(_ values: [UInt16]) -> [UInt8] {
        values.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) }
    }

    /// A one-entry header for tensor "a".
    func entry(_ dtype: String, _ shape: String, _ offsets: String) -> String {
        #"{"a":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":\#(offsets)}}"#
    }

    /// Opens `bytes` as a safetensors file and asserts it fails with `expected(path)`.
    func assertRejected(
        _ bytes: [UInt8], _ expected: (String) -> SafeTensorsError,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let path = try write(bytes, to: "bad.safetensors")
        XCTAssertThrowsError(try SafeTensorsFile(path: path), file: file, line: line) { error in
            XCTAssertEqual(error as? SafeTensorsError, expected(path), file: file, line: line)
        }
    }

    /// The error thrown by `body`, or a failure when it throws nothing.
    func thrownError<T>(
        _ body: () throws -> T, file: StaticString = #filePath, line: UInt = #line
    ) -> Error? {
        do {
            _ = try body()
            XCTFail("expected an error", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }
}

final class SafeTensorsFileTests: SafeTensorsTestCase {
    func testWriterRoundTripKeepsValuesShapesOrderAndMetadata() throws {
        let conv = Tensor(shape: [2, 1, 3, 3], scalars: (0..<18).map { Float($0) * 0.5 - 3 })
        let bias = Tensor(shape: [2], scalars: [-.infinity, 1e-30])
        let scalar = Tensor(shape: [], scalars: [42])
        let empty = Tensor(shape: [0, 4], scalars: [])
        let path = folder + "/model.safetensors"
        try SafeTensorsWriter.write(
            [("conv.weight", conv), ("conv.bias", bias), ("step", scalar), ("none", empty)],
            metadata: ["format": "pt", "note": "a/b \"quoted\""], to: path)

        let file = try SafeTensorsFile(path: path)
        XCTAssertEqual(file.names, ["conv.bias", "conv.weight", "none", "step"])
        XCTAssertEqual(file.metadata, ["format": "pt", "note": "a/b \"quoted\""])
        XCTAssertEqual(file.dataSectionOffset % 8, 0, "header must be padded to 8 bytes")
        XCTAssertEqual(try file.tensor("conv.weight"), conv)
        XCTAssertEqual(try file.tensor("conv.bias"), bias)
        XCTAssertEqual(try file.tensor("step"), scalar)
        XCTAssertEqual(try file.tensor("none"), empty)
        XCTAssertEqual(file.info("conv.weight")?.byteRange, 0..<72, "tensors in the given order")
        XCTAssertEqual(file.info("conv.bias")?.byteRange, 72..<80)
        XCTAssertEqual(file.info("step")?.dtype, .float32)
        XCTAssertNil(file.info("missing"))

        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder)
        XCTAssertEqual(leftovers, ["model.safetensors"], "no temporary file may be left behind")
    }

    func testWriterReplacesAnExistingFileAndReportsFailures() throws {
        let path = folder + "/w.safetensors"
        try SafeTensorsWriter.write([("x", Tensor(shape: [1], scalars: [1]))], to: path)
        try SafeTensorsWriter.write([("y", Tensor(shape: [2], scalars: [2, 3]))], to: path)
        XCTAssertEqual(try SafeTensorsFile(path: path).names, ["y"])

        let missing = folder + "/no/such/folder/w.safetensors"
        let createError = thrownError {
            try SafeTensorsWriter.write([("x", Tensor(shape: [1], scalars: [1]))], to: missing)
        }
        guard case let .cannotCreate(errorPath, _)? = createError as? SafeTensorsError else {
            return XCTFail("expected cannotCreate, got \(String(describing: createError))")
        }
        XCTAssertEqual(errorPath, missing)

        let one = Tensor(shape: [1], scalars: [1])
        let twice = [("x", one), ("x", one)]
        let duplicateError = thrownError { try SafeTensorsWriter.write(twice, to: path) }
        guard case .invalidTensorName(path, "x", _)? = duplicateError as? SafeTensorsError else {
            return XCTFail("expected invalidTensorName, got \(String(describing: duplicateError))")
        }
        XCTAssertEqual(try SafeTensorsFile(path: path).names, ["y"], "old file left untouched")
    }

    func testFloat16DecodingMatchesHandComputedValues() throws {
        let patterns: [(UInt16, Float)] = [
            (0x3C00, 1.0), (0xC000, -2.0), (0x7BFF, 65504), (0x3555, 0.333251953125),
            (0x0001, 0x1p-24), (0x03FF, 1023 * 0x1p-24), (0x0400, 0x1p-14),
            (0x8000, -0.0), (0x7C00, .infinity), (0xFC00, -.infinity),
        ]
        let header = entry("F16", "[\(patterns.count)]", "[0,\(2 * patterns.count)]")
        let path = try write(image(header, data: bits16Bytes(patterns.map(\.0))), to: "h.st")
        let values = try SafeTensorsFile(path: path).tensor("a").scalars
        for (value, (bits, expected)) in zip(values, patterns) {
            XCTAssertEqual(value.bitPattern, expected.bitPattern, "F16 \(hex(bits))")
        }
        XCTAssertTrue(Float16Conversion.float(fromHalfBits: 0x7E00).isNaN)
    }

    func testFloat16ConversionAgreesWithSwiftFloat16ForEveryPattern() {
        for bits in 0...UInt16.max {
            let ours = Float16Conversion.float(fromHalfBits: bits)
            let reference = Float(Float16(bitPattern: bits))
            if reference.isNaN {
                XCTAssertTrue(ours.isNaN, hex(bits))
            } else {
                XCTAssertEqual(ours.bitPattern, reference.bitPattern, hex(bits))
            }
        }
    }

    func testBFloat16DecodingMatchesHandComputedValues() throws {
        let patterns: [(UInt16, Float)] = [
            (0x3F80, 1.0), (0xC000, -2.0), (0x4049, 3.140625), (0x0001, 0x1p-133),
            (0x7F80, .infinity), (0x8000, -0.0),
        ]
        let header = entry("BF16", "[2, 3]", "[0,12]")
        let path = try write(image(header, data: bits16Bytes(patterns.map(\.0))), to: "b.st")
        let tensor = try SafeTensorsFile(path: path).tensor("a")
        XCTAssertEqual(tensor.shape, [2, 3])
        XCTAssertEqual(tensor.scalars.map(\.bitPattern), patterns.map(\.1.bitPattern))
    }

    func testUnalignedDataSectionIsRead() throws {
        // 8 + 9 header bytes... padded with spaces so the data section starts at an odd offset.
        let body = #"{"h":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},"#
            + #""f":{"dtype":"F32","shape":[2],"data_offsets":[6,14]}}"#
        let header = body.utf8.count % 2 == 0 ? body + " " : body
        let data = bits16Bytes([0x3C00, 0xC000, 0x7BFF]) + float32Bytes([1.5, -7])
        let bytes = image(header, data: data)
        let path = try write(bytes, to: "odd.safetensors")
        let file = try SafeTensorsFile(path: path)
        XCTAssertEqual(file.dataSectionOffset % 2, 1)
        XCTAssertEqual(try file.tensor("h").scalars, [1, -2, 65504])
        XCTAssertEqual(try file.tensor("f").scalars, [1.5, -7], "F32 at an odd, unaligned offset")
    }

    func testEmptyHeaderAndZeroSizedTensorsAreValid() throws {
        XCTAssertEqual(try SafeTensorsFile(path: write(image("{}"), to: "e.st")).names, [])
        let header = #"{"z":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},"#
            + #""a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}"#
        let file = try SafeTensorsFile(path: write(image(header, data: float32Bytes([9])), to: "z"))
        XCTAssertEqual(try file.tensor("z").shape, [0, 3])
        XCTAssertEqual(try file.tensor("a").scalars, [9])
    }

    func testMissingTensorErrorListsCloseNames() throws {
        let path = folder + "/n.safetensors"
        let one = Tensor(shape: [1], scalars: [1])
        let names = ["conv_in.weight", "conv_in.bias", "time_embedding.linear_1.weight"]
        try SafeTensorsWriter.write(names.map { ($0, one) }, to: path)
        let error = thrownError { try SafeTensorsFile(path: path).tensor("conv_in.wieght") }
        XCTAssertEqual(
            error as? SafeTensorsError,
            .tensorNotFound(path: path, tensor: "conv_in.wieght", closeNames: ["conv_in.weight"]))
        XCTAssertTrue("\(error.map { "\($0)" } ?? "")".contains("close names: 'conv_in.weight'"))
    }

    #if os(Linux)
    func testMappingIsReleasedWithTheFile() throws {
        let path = try save([("x", Tensor(shape: [1024], repeating: 1))], to: "mapped.safetensors")
        func isMapped() throws -> Bool {
            // /proc files report size 0, so read the stream to its end rather than by size.
            let maps = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/maps"))
            defer { try? maps.close() }
            return String(decoding: try maps.readToEnd() ?? Data(), as: UTF8.self).contains(path)
        }
        var file: SafeTensorsFile? = try SafeTensorsFile(path: path)
        XCTAssertTrue(try isMapped())
        XCTAssertEqual(file?.names, ["x"])
        file = nil
        XCTAssertFalse(try isMapped(), "the mapping must go with the last reference")
    }
    #endif

    func testOpeningAMissingPathOrAFolderFails() throws {
        let missing = folder + "/absent.safetensors"
        guard case .cannotOpen(missing, _)? = thrownError({ try SafeTensorsFile(path: missing) })
            as? SafeTensorsError
        else { return XCTFail("expected cannotOpen") }
        XCTAssertEqual(
            thrownError { try SafeTensorsFile(path: folder) } as? SafeTensorsError,
            .notARegularFile(path: folder))
    }
}

final class SafeTensorsMalformedTests: SafeTensorsTestCase {
    func testFileShorterThanEightBytes() throws {
        try assertRejected([1, 0, 0, 0, 0]) { .fileTooShort(path: $0, size: 5) }
    }

    func testTruncatedDataSection() throws {
        let bytes = image(entry("F32", "[2]", "[0,8]"), data: [0, 0, 128, 63, 0])
        try assertRejected(bytes) { .truncated(path: $0, declaredDataSize: 8, actualDataSize: 5) }
    }

    func testHeaderLengthLargerThanTheFile() throws {
        let bytes = image("{}", lengthPrefix: 1000)
        try assertRejected(bytes) { .headerExceedsFile(path: $0, headerLength: 1000, fileSize: 10) }
    }

    func testHeaderLengthOverTheCap() throws {
        let huge: UInt64 = 200 << 20
        try assertRejected(image("{}", lengthPrefix: huge)) {
            .headerTooLarge(path: $0, headerLength: huge, limit: 100 << 20)
        }
        try assertRejected(image("{}", lengthPrefix: .max)) {
            .headerTooLarge(path: $0, headerLength: .max, limit: 100 << 20)
        }
    }

    func testHeaderNotJSON() throws {
        for header in [#"{"a": {"dtype": "#, "", "{} trailing"] {
            let path = try write(image(header), to: "bad.safetensors")
            let error = thrownError { try SafeTensorsFile(path: path) }
            guard case .headerNotJSON(path, _)? = error as? SafeTensorsError else {
                return XCTFail("header '\(header)': expected headerNotJSON, got \(error as Any)")
            }
        }
    }

    func testHeaderNotUTF8() throws {
        try assertRejected(image("{}").dropLast(2) + [0xFF, 0xFE]) { .headerNotUTF8(path: $0) }
    }

    func testHeaderJSONNotAnObject() throws {
        try assertRejected(image("[1, 2]")) { .headerNotObject(path: $0, found: "[1, 2]") }
        try assertRejected(image("42")) { .headerNotObject(path: $0, found: "42") }
    }

    func testMetadataMustMapStringsToStrings() throws {
        try assertRejected(image(#"{"__metadata__":{"epoch":3}}"#)) {
            .invalidMetadata(path: $0, key: "epoch", found: "3")
        }
        try assertRejected(image(#"{"__metadata__":[]}"#)) {
            .invalidMetadata(path: $0, key: nil, found: "[]")
        }
    }

    func testEntryThatIsNotAnObject() throws {
        try assertRejected(image(#"{"a":[1]}"#)) {
            .entryNotObject(path: $0, tensor: "a", found: "[1]")
        }
    }

    func testEntryMissingDataOffsets() throws {
        try assertRejected(image(#"{"a":{"dtype":"F32","shape":[1]}}"#)) {
            .missingField(path: $0, tensor: "a", field: "data_offsets")
        }
    }

    func testFieldsOfTheWrongType() throws {
        let offsets = "[begin, end], two non-negative integers"
        let shapes = "an array of non-negative integers"
        try assertRejected(image(entry("F32", "[2.5]", "[0,4]"))) {
            .invalidField(path: $0, tensor: "a", field: "shape", found: "[2.5]", expected: shapes)
        }
        try assertRejected(image(entry("F32", "[true]", "[0,4]"))) {
            .invalidField(path: $0, tensor: "a", field: "shape", found: "[true]", expected: shapes)
        }
        try assertRejected(image(entry("F32", "[1]", "[-4,0]"), data: [0, 0, 0, 0])) {
            .invalidField(
                path: $0, tensor: "a", field: "data_offsets", found: "[-4, 0]", expected: offsets)
        }
        try assertRejected(image(entry("F32", "[1]", "[0]"))) {
            .invalidField(
                path: $0, tensor: "a", field: "data_offsets", found: "[0]", expected: offsets)
        }
        try assertRejected(image(#"{"a":{"dtype":32,"shape":[1],"data_offsets":[0,4]}}"#)) {
            .invalidField(
                path: $0, tensor: "a", field: "dtype", found: "32",
                expected: "a string such as \"F32\"")
        }
    }

    func testReversedOffsets() throws {
        try assertRejected(image(entry("F32", "[2]", "[8,0]"), data: zeros(8))) {
            .reversedOffsets(path: $0, tensor: "a", begin: 8, end: 0)
        }
    }

    func testOffsetsPastTheEndOfTheData() throws {
        let header = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"#
            + #""b":{"dtype":"F32","shape":[1],"data_offsets":[100,104]}}"#
        try assertRejected(image(header, data: zeros(8))) {
            .offsetsOutOfBounds(path: $0, tensor: "b", offsets: 100..<104, dataSize: 8)
        }
    }

    func testOverlappingTensors() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"#
            + #""b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        try assertRejected(image(header, data: zeros(8))) {
            .overlappingTensors(
                path: $0, first: "a", firstOffsets: 0..<8, second: "b", secondOffsets: 4..<8)
        }
    }

    func testGapBetweenTensors() throws {
        let header = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"#
            + #""b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        try assertRejected(image(header, data: zeros(12))) {
            .gapBetweenTensors(path: $0, previous: "a", next: "b", gap: 4..<8)
        }
        try assertRejected(image(entry("F32", "[1]", "[4,8]"), data: zeros(8))) {
            .gapBetweenTensors(path: $0, previous: nil, next: "a", gap: 0..<4)
        }
    }

    func testTrailingBytes() throws {
        try assertRejected(image(entry("F32", "[1]", "[0,4]"), data: [0, 0, 0, 0, 7, 7])) {
            .trailingBytes(path: $0, declaredDataSize: 4, actualDataSize: 6)
        }
    }

    func testShapeAndByteCountMismatch() throws {
        let bytes = image(entry("F32", "[32,4,3,3]", "[0,1152]"), data: zeros(1152))
        try assertRejected(bytes) {
            .byteCountMismatch(
                path: $0, tensor: "a", offsets: 0..<1152, dtype: "F32", shape: [32, 4, 3, 3],
                expectedBytes: 4608)
        }
        let path = try write(bytes, to: "model.safetensors")
        let error = thrownError { try SafeTensorsFile(path: path) }
        XCTAssertEqual(
            (error as? SafeTensorsError)?.description,
            "\(path): tensor 'a' spans bytes 0..<1152 but dtype F32 x shape [32, 4, 3, 3] needs "
                + "4608 bytes.")
    }

    func testUnsupportedDtypes() throws {
        try assertRejected(image(entry("F64", "[1]", "[0,8]"), data: zeros(8))) {
            .unsupportedDtype(path: $0, tensor: "a", dtype: "F64")
        }
        try assertRejected(image(entry("Q4", "[2]", "[0,1]"), data: [0])) {
            .unsupportedDtype(path: $0, tensor: "a", dtype: "Q4")
        }
        let f64 = "\(SafeTensorsError.unsupportedDtype(path: "p", tensor: "a", dtype: "F64"))"
        let q4 = "\(SafeTensorsError.unsupportedDtype(path: "p", tensor: "a", dtype: "Q4"))"
        XCTAssertTrue(f64.contains("does not load") && f64.contains("F32, F16, BF16"), f64)
        XCTAssertTrue(q4.contains("not a safetensors dtype"), q4)
    }

    func testNegativeShapeExtent() throws {
        try assertRejected(image(entry("F32", "[-1,4]", "[0,0]"))) {
            .negativeExtent(path: $0, tensor: "a", shape: [-1, 4])
        }
    }

    func testHugeShapeWhoseByteCountOverflows() throws {
        let big = 1 << 40
        try assertRejected(image(entry("F32", "[\(big),\(big)]", "[0,4]"), data: [0, 0, 0, 0])) {
            .sizeOverflow(path: $0, tensor: "a", dtype: "F32", shape: [big, big])
        }
        // An extent beyond Int is not an integer the reader accepts at all.
        try assertRejected(image(entry("F32", "[18446744073709551616]", "[0,4]"))) {
            .invalidField(
                path: $0, tensor: "a", field: "shape", found: "[18446744073709551616]",
                expected: "an array of non-negative integers")
        }
    }

    func testRandomBytesNeverCrash() throws {
        var generator = SystemRandomNumberGenerator()
        let valid = image(entry("F16", "[2]", "[0,4]"), data: [0, 60, 0, 192])
        for trial in 0..<300 {
            var bytes = valid
            for _ in 0..<(1 + trial % 4) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = .random(in: 0...255)
            }
            if trial % 5 == 0 { bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count))) }
            let path = try write(bytes, to: "fuzz.safetensors")
            if let file = try? SafeTensorsFile(path: path) {
                for name in file.names { _ = try? file.tensor(name) }
            }
        }
    }
}

final class SafeTensorsWeightStoreTests: SafeTensorsTestCase {
    private let weight = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
    private let bias = Tensor(shape: [2], scalars: [-1, 0.5])

    /// An F16 file with "conv_in.weight" = [1, -2] in half precision.
    private func halfImage() -> [UInt8] {
        let header = #"{"conv_in.weight":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#
        return image(header, data: bits16Bytes([0x3C00, 0xC000]))
    }

    func testSingleFileFolder() throws {
        try save(
            [("conv_in.weight", weight), ("conv_in.bias", bias)],
            to: "unet/diffusion_pytorch_model.safetensors")
        let store = try WeightStore(folder: folder + "/unet")
        XCTAssertEqual(store.names, ["conv_in.bias", "conv_in.weight"])
        XCTAssertTrue(store.contains("conv_in.bias"))
        XCTAssertFalse(store.contains("conv_out.bias"))
        XCTAssertEqual(store.shape("conv_in.weight"), [2, 2])
        XCTAssertNil(store.shape("conv_out.weight"))
        XCTAssertEqual(try store.tensor("conv_in.weight"), weight)
        XCTAssertEqual(
            thrownError { try store.tensor("conv_in.bais") } as? WeightStoreError,
            .tensorNotFound(
                source: folder + "/unet", tensor: "conv_in.bais", closeNames: ["conv_in.bias"]))
    }

    func testFloat16Variant() throws {
        try write(halfImage(), to: "vae/diffusion_pytorch_model.fp16.safetensors")
        let explicit = try WeightStore(folder: folder + "/vae", variant: "fp16")
        XCTAssertEqual(try explicit.tensor("conv_in.weight").scalars, [1, -2])
        XCTAssertEqual(explicit.info("conv_in.weight")?.dtype, .float16)

        let implicit = try WeightStore(folder: folder + "/vae")
        XCTAssertEqual(
            implicit.filePaths, [folder + "/vae/diffusion_pytorch_model.fp16.safetensors"])

        let error = thrownError { try WeightStore(folder: self.folder + "/vae", variant: "ema") }
        XCTAssertEqual(
            error as? WeightStoreError,
            .variantNotFound(
                folder: folder + "/vae", variant: "ema",
                available: ["diffusion_pytorch_model.fp16.safetensors"]))
    }

    func testPlainFileIsPreferredOverTheVariantWhenNoVariantIsGiven() throws {
        try write(halfImage(), to: "m/diffusion_pytorch_model.fp16.safetensors")
        try save([("conv_in.weight", bias)], to: "m/diffusion_pytorch_model.safetensors")
        XCTAssertEqual(try WeightStore(folder: folder + "/m").tensor("conv_in.weight"), bias)
        let half = try WeightStore(folder: folder + "/m", variant: "fp16")
        XCTAssertEqual(try half.tensor("conv_in.weight").scalars, [1, -2])
    }

    private let firstShard = "diffusion_pytorch_model-00001-of-00002.safetensors"
    private let secondShard = "diffusion_pytorch_model-00002-of-00002.safetensors"

    /// A folder with two shards and an index mapping `weightMap`.
    private func writeShardedFolder(weightMap: String) throws -> String {
        let shards = folder + "/sharded"
        try save([("a.weight", weight)], to: "sharded/" + firstShard)
        try save([("b.bias", bias)], to: "sharded/" + secondShard)
        try writeText(
            #"{"metadata":{"total_size":24},"weight_map":\#(weightMap)}"#,
            to: "sharded/diffusion_pytorch_model.safetensors.index.json")
        return shards
    }

    func testShardedFolderWithIndex() throws {
        let shards = try writeShardedFolder(weightMap: """
            {"a.weight":"diffusion_pytorch_model-00001-of-00002.safetensors",
             "b.bias":"diffusion_pytorch_model-00002-of-00002.safetensors"}
            """)
        let store = try WeightStore(folder: shards)
        XCTAssertEqual(store.names, ["a.weight", "b.bias"])
        XCTAssertEqual(try store.tensor("a.weight"), weight)
        XCTAssertEqual(try store.tensor("b.bias"), bias)
        XCTAssertEqual(store.filePaths.count, 2)
    }

    func testIndexNamingAMissingShard() throws {
        let shards = try writeShardedFolder(weightMap: """
            {"a.weight":"diffusion_pytorch_model-00001-of-00002.safetensors",
             "b.bias":"diffusion_pytorch_model-00003-of-00003.safetensors"}
            """)
        XCTAssertEqual(
            thrownError { try WeightStore(folder: shards) } as? WeightStoreError,
            .shardNotFound(
                index: shards + "/diffusion_pytorch_model.safetensors.index.json",
                shard: "diffusion_pytorch_model-00003-of-00003.safetensors", tensor: "b.bias"))
    }

    func testIndexMappingATensorToTheWrongShard() throws {
        let shards = try writeShardedFolder(weightMap: """
            {"a.weight":"diffusion_pytorch_model-00001-of-00002.safetensors",
             "b.bias":"diffusion_pytorch_model-00001-of-00002.safetensors"}
            """)
        XCTAssertEqual(
            thrownError { try WeightStore(folder: shards) } as? WeightStoreError,
            .tensorNotInShard(
                index: shards + "/diffusion_pytorch_model.safetensors.index.json",
                tensor: "b.bias", shard: "diffusion_pytorch_model-00001-of-00002.safetensors"))
    }

    func testIndexWithAShardOutsideTheFolderIsRefused() throws {
        let shards = try writeShardedFolder(weightMap: #"{"a.weight":"../elsewhere.safetensors"}"#)
        guard case .invalidIndex? = thrownError({ try WeightStore(folder: shards) })
            as? WeightStoreError
        else { return XCTFail("expected invalidIndex") }
    }

    func testPickledWeightsAreRefused() throws {
        try write([0x80, 0x02], to: "old/diffusion_pytorch_model.bin")
        let error = thrownError { try WeightStore(folder: self.folder + "/old") }
        XCTAssertEqual(
            error as? WeightStoreError,
            .pickledCheckpointRefused(
                folder: folder + "/old", files: ["diffusion_pytorch_model.bin"]))
        XCTAssertTrue("\(error.map { "\($0)" } ?? "")".contains("safe_serialization=True"))
    }

    func testEmptyAndMissingFolders() throws {
        try FileManager.default.createDirectory(
            atPath: folder + "/empty", withIntermediateDirectories: true)
        XCTAssertEqual(
            thrownError { try WeightStore(folder: self.folder + "/empty") } as? WeightStoreError,
            .noWeights(folder: folder + "/empty", found: []))
        XCTAssertEqual(
            thrownError { try WeightStore(folder: self.folder + "/nope") } as? WeightStoreError,
            .folderNotFound(folder: folder + "/nope"))
    }

    func testFileListRejectsATensorInTwoFiles() throws {
        let first = folder + "/one.safetensors", second = folder + "/two.safetensors"
        try SafeTensorsWriter.write([("a", weight), ("b", bias)], to: first)
        try SafeTensorsWriter.write([("b", bias)], to: second)
        XCTAssertEqual(
            thrownError { try WeightStore(files: [first, second]) } as? WeightStoreError,
            .duplicateTensor(tensor: "b", firstFile: first, secondFile: second))
        XCTAssertEqual(try WeightStore(files: [first]).names, ["a", "b"])
    }

    private struct Config: Decodable, Equatable {
        let inChannels: Int
        let blockOutChannels: [Int]

        enum CodingKeys: String, CodingKey {
            case inChannels = "in_channels", blockOutChannels = "block_out_channels"
        }
    }

    func testReadConfig() throws {
        try writeText(#"{"in_channels": 4, "block_out_channels": [32, 64]}"#, to: "c/config.json")
        XCTAssertEqual(
            try WeightStore.readConfig(Config.self, folder: folder + "/c"),
            Config(inChannels: 4, blockOutChannels: [32, 64]))
    }

    private func readTestConfig() throws -> Config {
        try WeightStore.readConfig(Config.self, folder: folder + "/c")
    }

    func testReadConfigErrors() throws {
        let path = folder + "/c/config.json"
        try FileManager.default.createDirectory(
            atPath: folder + "/c", withIntermediateDirectories: true)
        XCTAssertEqual(
            thrownError { try self.readTestConfig() } as? WeightStoreError,
            .configNotFound(path: path))

        try writeText(#"{"in_channels": 4, "block_out_channels": [32, "64"]}"#, to: "c/config.json")
        let mismatch = thrownError { try self.readTestConfig() }
        guard case .invalidConfig(path, "block_out_channels[1]", _)? = mismatch as? WeightStoreError
        else { return XCTFail("expected the key path in \(mismatch as Any)") }

        try writeText(#"{"block_out_channels": []}"#, to: "c/config.json")
        let missing = thrownError { try self.readTestConfig() }
        guard case .invalidConfig(path, "in_channels", "is required but missing")? =
            missing as? WeightStoreError
        else { return XCTFail("expected a missing key, got \(missing as Any)") }

        try writeText(#"{"in_channels": 4,"#, to: "c/config.json")
        let broken = thrownError { try self.readTestConfig() }
        guard case .invalidConfig(path, "(top level)", _)? = broken as? WeightStoreError
        else { return XCTFail("expected invalid JSON, got \(broken as Any)") }
    }
}
