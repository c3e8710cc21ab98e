// Decoding tests: exact samples of every PNG kind (16-bit included, colour-space chunks
// ignored), JPEG samples equal to Pillow's, codec chosen by content, and each error case.

import Foundation
import XCTest
@testable import MVADInspect

final class ImageDecoderTests: XCTestCase {
    private let pngKinds = ["grey8.png", "grey4.png", "grey16.png", "grey_alpha8.png", "rgb8.png",
                            "rgba8.png", "rgb16.png", "rgba16_opaque.png", "palette.png"]

    func testEveryPNGKindDecodesToTheStoredSamples() throws {
        let expected = try ImageFixtures.document().images
        for name in pngKinds {
            let image = try ImageFixtures.decode(name)
            let reference = try XCTUnwrap(expected[name], name)
            XCTAssertEqual(image.width, reference.width, name)
            XCTAssertEqual(image.height, reference.height, name)
            XCTAssertEqual(image.channels, reference.channels, name)
            XCTAssertEqual(image.bitDepth, reference.bitDepth, name)
            XCTAssertEqual(sampleValues(image), reference.samples, name)
        }
    }

    /// 16-bit files carry gAMA / sRGB chunks that would make libpng convert; values must come
    /// back bit for bit, including 0, 1, 256, 257, 65280 and 65535.
    func testSixteenBitSamplesComeBackExactly() throws {
        let grey = try ImageFixtures.decode("grey16.png")
        XCTAssertEqual(grey.bitDepth, 16)
        guard case .uint16(let values) = grey.samples else { return XCTFail("not 16-bit") }
        XCTAssertEqual(Array(values.prefix(8)), [0, 65535, 1, 65534, 256, 257, 32768, 65280])
        let colour = try ImageFixtures.decode("rgb16.png")
        XCTAssertEqual(colour.channels, 3)
        let reference = try XCTUnwrap(ImageFixtures.document().images["rgb16.png"])
        XCTAssertEqual(sampleValues(colour), reference.samples)
    }

    func testTranslucentSixteenBitPNGIsRefused() {
        let error = assertImageError(try ImageFixtures.decode("rgba16_translucent.png")) {
            if case .unsupportedFormat(_, "PNG", _) = $0 { return true }
            return false
        }
        XCTAssertTrue(error?.description.contains("x 0, y 0") ?? false)
    }

    func testJPEGSamplesEqualPillows() throws {
        let expected = try ImageFixtures.document().images
        for name in ["rgb.jpg", "grey.jpg"] {
            let image = try ImageFixtures.decode(name)
            let reference = try XCTUnwrap(expected[name], name)
            XCTAssertEqual([image.width, image.height, image.channels],
                           [reference.width, reference.height, reference.channels], name)
            XCTAssertEqual(sampleValues(image), reference.samples, name)
        }
    }

    func testCodecIsChosenByContentNotByExtension() throws {
        let folder = try ImageFixtures.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let pngNamedJPEG = folder.appendingPathComponent("view.jpg")
        let jpegNamedPNG = folder.appendingPathComponent("view.PNG")
        try Data(ImageFixtures.bytes("rgb8.png")).write(to: pngNamedJPEG)
        try Data(ImageFixtures.bytes("rgb.jpg")).write(to: jpegNamedPNG)
        XCTAssertEqual(try ImageDecoder.decode(contentsOf: pngNamedJPEG),
                       try ImageFixtures.decode("rgb8.png"))
        XCTAssertEqual(try ImageDecoder.decode(contentsOf: jpegNamedPNG),
                       try ImageFixtures.decode("rgb.jpg"))
    }

    func testMissingFileReportsTheSystemReason() {
        let path = ImageFixtures.path("no-such-view.png")
        let error = assertImageError(try ImageDecoder.decode(path: path)) {
            $0 == .unreadableFile(path: path, reason: "No such file or directory")
        }
        XCTAssertEqual(error?.description,
                       "Cannot read image file '\(path)': No such file or directory.")
    }

    func testFolderIsNotAnImage() {
        assertImageError(try ImageDecoder.decode(path: ImageFixtures.folder)) {
            if case .unreadableFile(_, let reason) = $0 { return reason.contains("folder") }
            return false
        }
    }

    func testEmptyFileAndEmptyBytes() throws {
        let folder = try ImageFixtures.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let empty = folder.appendingPathComponent("empty.png")
        try Data().write(to: empty)
        assertImageError(try ImageDecoder.decode(contentsOf: empty)) {
            $0 == .emptyFile(source: empty.path)
        }
        assertImageError(try ImageDecoder.decode([])) {
            $0 == .emptyFile(source: "in-memory image")
        }
    }

    func testOtherFormatsAreNamedByTheirFirstBytes() {
        let gif = Array("GIF89a".utf8) + [1, 0, 1, 0]
        let error = assertImageError(try ImageDecoder.decode(gif, source: "view.png")) {
            $0 == .notAnImage(source: "view.png", leadingBytes: gif)
        }
        let text = error?.description ?? ""
        XCTAssertTrue(text.contains("47 49 46 38 39 61"), text)
        XCTAssertTrue(text.contains("GIF image"), text)
        XCTAssertTrue(text.contains("89 50 4E 47 0D 0A 1A 0A"), text)
    }

    func testTruncatedPNGIsCorruptWithLibpngsMessage() throws {
        let bytes = try ImageFixtures.bytes("noise_37x29.png")
        let error = assertImageError(try ImageDecoder.decode(Array(bytes.prefix(bytes.count / 2)),
                                                             source: "half.png")) {
            if case .corruptData("half.png", "PNG", let message) = $0 { return !message.isEmpty }
            return false
        }
        XCTAssertTrue(error?.description.hasPrefix("PNG data in 'half.png' is truncated") ?? false)
    }

    func testTruncatedJPEGIsCorruptEvenThoughLibjpegOnlyWarns() throws {
        let bytes = try ImageFixtures.bytes("rgb.jpg")
        let scan = try XCTUnwrap((2..<(bytes.count - 1)).first {
            bytes[$0] == 0xFF && bytes[$0 + 1] == 0xDA
        })
        let cut = scan + (bytes.count - scan) / 2           // inside the entropy-coded data
        assertImageError(try ImageDecoder.decode(Array(bytes.prefix(cut)))) {
            if case .corruptData(_, "JPEG", let message) = $0 {
                return message.contains("Premature end")
            }
            return false
        }
    }

    func testCMYKJPEGIsUnsupported() {
        assertImageError(try ImageFixtures.decode("cmyk.jpg")) {
            if case .unsupportedFormat(_, "JPEG", let detail) = $0 {
                return detail.contains("CMYK")
            }
            return false
        }
    }

    func testTwelveBitJPEGIsUnsupported() throws {
        var bytes = try ImageFixtures.bytes("rgb.jpg")
        let frame = try XCTUnwrap(startOfFrame(in: bytes))
        bytes[frame + 4] = 12                             // precision byte of SOF0
        assertImageError(try ImageDecoder.decode(bytes)) {
            if case .unsupportedFormat(_, "JPEG", let detail) = $0 {
                return detail.contains("12-bit")
            }
            return false
        }
    }

    func testAbsurdPNGDimensionsAreRefusedBeforeAllocating() {
        var header = bigEndian(100_000) + bigEndian(100_000)
        header += [8, 2, 0, 0, 0]                         // 8-bit RGB, no interlace
        let bytes = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + pngChunk("IHDR", header)
            + pngChunk("IDAT", [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])
            + pngChunk("IEND", [])
        let error = assertImageError(try ImageDecoder.decode(bytes, source: "huge.png")) {
            $0 == .tooLarge(source: "huge.png", width: 100_000, height: 100_000,
                            limit: ImageDecoder.maximumPixelCount)
        }
        XCTAssertTrue(error?.description.contains("10000000000") ?? false)
    }

    func testAbsurdJPEGDimensionsAreRefusedBeforeAllocating() throws {
        var bytes = try ImageFixtures.bytes("rgb.jpg")
        let frame = try XCTUnwrap(startOfFrame(in: bytes))
        let side: [UInt8] = [0xEA, 0x60]                   // 60000, under libjpeg's own limit
        bytes.replaceSubrange((frame + 5)..<(frame + 9), with: side + side)
        assertImageError(try ImageDecoder.decode(bytes)) {
            $0 == .tooLarge(source: "in-memory image", width: 60000, height: 60000,
                            limit: ImageDecoder.maximumPixelCount)
        }
    }

    /// Index of the FF C0 marker of a baseline JPEG.
    private func startOfFrame(in bytes: [UInt8]) -> Int? {
        (2..<(bytes.count - 1)).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 }
    }
}
