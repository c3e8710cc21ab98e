// Conversion tests: grey and alpha handling of rgb(), and the [1, 3, H, W] tensors in [0, 1]
// and [-1, 1] for 8-bit and 16-bit images.

import MVADEngine
import XCTest
@testable import MVADInspect

final class ImageTensorTests: XCTestCase {
    func testRGBReplicatesGreyAndDropsAlpha() {
        let greyAlpha = Image(width: 2, height: 1, channels: 2, samples: .uint8([10, 99, 20, 0]))
        XCTAssertEqual(greyAlpha.rgb().samples, .uint8([10, 10, 10, 20, 20, 20]))
        let rgba = Image(width: 1, height: 1, channels: 4, samples: .uint16([1, 2, 3, 4]))
        XCTAssertEqual(rgba.rgb().samples, .uint16([1, 2, 3]))
        XCTAssertEqual(rgba.rgb().bitDepth, 16)
    }

    func testEightBitTensorIsPlanarValueOver255() {
        let image = Image(width: 2, height: 1, channels: 3,
                          samples: .uint8([0, 51, 255, 128, 1, 254]))
        let unit = image.tensor()
        XCTAssertEqual(unit.shape, [1, 3, 1, 2])
        XCTAssertEqual(unit.scalars, [0, 128, 51, 1, 255, 254].map { Float($0) / 255 })
        let signed = image.tensor(range: .signed)
        XCTAssertEqual(signed.scalars, unit.scalars.map { $0 * 2 - 1 })
        XCTAssertEqual(signed.scalars.first, -1)
        XCTAssertEqual(signed.scalars[4], 1)
    }

    func testSixteenBitTensorIsValueOver65535() {
        let grey = Image(width: 3, height: 1, channels: 1, samples: .uint16([0, 257, 65535]))
        let tensor = grey.tensor()
        XCTAssertEqual(tensor.shape, [1, 3, 1, 3])
        let plane: [Float] = [0, Float(257) / 65535, 1]
        XCTAssertEqual(tensor.scalars, plane + plane + plane)
    }

    func testSampleAccessorReadsInterleavedValues() throws {
        let image = try ImageFixtures.decode("rgb8.png")
        let values = sampleValues(image)
        XCTAssertEqual(image.sample(x: 2, y: 1, channel: 1), values[(1 * image.width + 2) * 3 + 1])
    }
}
