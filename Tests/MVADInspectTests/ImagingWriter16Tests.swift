// ImageWriter.encodePNG16: 16-bit grey and RGB images survive a write and read unchanged, and
// images it cannot store exactly are refused.

import MVADInspect
import XCTest

final class ImageWriter16Tests: XCTestCase {
    func testSixteenBitGreyAndRGBRoundTripExactly() throws {
        let grey: [UInt16] = [0, 1, 255, 256, 4660, 32768, 65534, 65535, 43981, 7]
        for (channels, samples) in [(1, grey), (3, grey + grey + grey)] {
            let image = Image(width: 5, height: 2, channels: channels, samples: .uint16(samples))
            let bytes = try ImageWriter.encodePNG16(image)
            XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
            XCTAssertEqual(bytes[24], 16, "IHDR bit depth")
            XCTAssertEqual(bytes[25], channels == 1 ? 0 : 2, "IHDR colour type")
            XCTAssertEqual(try ImageDecoder.decode(bytes), image)
        }
    }

    func testEightBitAndAlphaImagesAreRefused() {
        let eight = Image(width: 1, height: 1, channels: 1, samples: .uint8([3]))
        XCTAssertThrowsError(try ImageWriter.encodePNG16(eight, name: "d.png")) { error in
            XCTAssertTrue("\(error)".contains("8-bit"))
        }
        let alpha = Image(width: 1, height: 1, channels: 2, samples: .uint16([3, 65535]))
        XCTAssertThrowsError(try ImageWriter.encodePNG16(alpha, name: "d.png")) { error in
            XCTAssertTrue("\(error)".contains("alpha"))
        }
    }
}
