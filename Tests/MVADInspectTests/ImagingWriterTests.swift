// PNG writer tests: 8-bit grey / RGB / RGBA round trips through the decoder, atomic replacement
// without leftovers, and the errors for 16-bit images and unwritable folders.

import Foundation
import XCTest
@testable import MVADInspect

final class ImageWriterTests: XCTestCase {
    func testEightBitImagesRoundTrip() throws {
        let folder = try ImageFixtures.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["grey8.png", "rgb8.png", "rgba8.png", "grey_alpha8.png", "noise_37x29.png"] {
            let image = try ImageFixtures.decode(name)
            let target = folder.appendingPathComponent("copy-" + name)
            try ImageWriter.writePNG(image, to: target)
            XCTAssertEqual(try ImageDecoder.decode(contentsOf: target), image, name)
        }
    }

    func testReplacingAFileLeavesNoTemporaryFiles() throws {
        let folder = try ImageFixtures.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let target = folder.appendingPathComponent("view.png")
        try ImageWriter.writePNG(try ImageFixtures.decode("rgb8.png"), to: target)
        let replacement = try ImageFixtures.decode("grey8.png")
        try ImageWriter.writePNG(replacement, to: target)
        XCTAssertEqual(try ImageDecoder.decode(contentsOf: target), replacement)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path),
                       ["view.png"])
    }

    func testSixteenBitImagesAreRefused() throws {
        let image = try ImageFixtures.decode("grey16.png")
        assertImageError(try ImageWriter.encodePNG(image, name: "out.png")) {
            if case .writeFailed("out.png", let reason) = $0 { return reason.contains("16-bit") }
            return false
        }
    }

    func testMissingFolderIsReportedWithTheSystemReason() throws {
        let image = try ImageFixtures.decode("rgb8.png")
        let path = "/nonexistent-mvad-folder/view.png"
        assertImageError(try ImageWriter.writePNG(image, path: path)) {
            if case .writeFailed(path, let reason) = $0 {
                return reason.contains("No such file or directory")
            }
            return false
        }
    }
}
