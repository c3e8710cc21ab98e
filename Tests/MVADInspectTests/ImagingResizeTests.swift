// Resize tests: bicubic (8-bit and float 'F') and nearest must equal Pillow's results bit for
// bit; the model-input tensor and the mask threshold follow from them.

import Foundation
import MVADEngine
import XCTest
@testable import MVADInspect

final class ImageResizeTests: XCTestCase {
    /// (width, height) of the fixtures: shrink both, enlarge both, shrink one and enlarge the
    /// other, and a case where Pillow runs the vertical pass first.
    private let bicubicSizes = [(16, 16), (64, 48), (29, 37), (40, 9)]

    func testBicubicMatchesPillowBitForBit() throws {
        let noise = try ImageFixtures.decode("noise_37x29.png")
        for (width, height) in bicubicSizes {
            let name = "noise_37x29_bicubic_\(width)x\(height).png"
            let expected = try ImageFixtures.decode(name)
            let resized = noise.resizedBicubic(width: width, height: height)
            XCTAssertEqual(resized, expected, name)
            let differing = zip(sampleValues(resized), sampleValues(expected)).filter { $0 != $1 }
            XCTAssertEqual(differing.count, 0, "\(name): \(differing.count) samples differ")
        }
    }

    func testFloatBicubicMatchesPillowModeFBitForBit() throws {
        let grey = try ImageFixtures.decode("noise_37x29_grey16.png")
        XCTAssertEqual(grey.bitDepth, 16)
        let plane = grey.tensor().scalars.prefix(grey.width * grey.height)   // one channel
        let input = Tensor(shape: [grey.height, grey.width], scalars: Array(plane))
        let expected = try SafeTensorsFile(path: ImageFixtures.path(
            "noise_37x29_grey16_bicubic.safetensors"))
        for (width, height) in bicubicSizes {
            let reference = try expected.tensor("\(width)x\(height)")
            let resized = input.resizedBicubic(width: width, height: height)
            XCTAssertEqual(resized.shape, [height, width])
            XCTAssertEqual(resized.scalars.map(\.bitPattern), reference.scalars.map(\.bitPattern),
                           "\(width)x\(height)")
        }
    }

    func testFloatBicubicResizesEveryPlaneAlike() throws {
        let grey = try ImageFixtures.decode("noise_37x29_grey16.png")
        let planes = grey.tensor()                                   // [1, 3, 29, 37]
        let resized = planes.resizedBicubic(width: 16, height: 16)
        XCTAssertEqual(resized.shape, [1, 3, 16, 16])
        let first = Array(resized.scalars[0..<256])
        XCTAssertEqual(Array(resized.scalars[256..<512]), first)
        XCTAssertEqual(Array(resized.scalars[512..<768]), first)
    }

    func testNearestMatchesPillowBitForBit() throws {
        let mask = try ImageFixtures.decode("mask_37x29.png")
        for (width, height) in [(16, 16), (64, 48)] {
            let name = "mask_37x29_nearest_\(width)x\(height).png"
            XCTAssertEqual(mask.resizedNearest(width: width, height: height),
                           try ImageFixtures.decode(name), name)
        }
    }

    /// Pillow's nearest filter accumulates its source position; (i + 0.5) * scale differs
    /// for some sizes: for 2 -> 7 it gives [0, 0, 0, 1, 1, 1, 1]. Values are Pillow 13's.
    func testNearestSourceIndicesAccumulateAsPillow() {
        XCTAssertEqual(Image.nearestSources(inputSize: 2, outputSize: 7), [0, 0, 0, 0, 1, 1, 1])
        XCTAssertEqual(Image.nearestSources(inputSize: 29, outputSize: 16),
                       [0, 2, 4, 6, 8, 9, 11, 13, 15, 17, 19, 20, 22, 24, 26, 28])
    }

    func testMaskTensorMarksEveryNonZeroPixel() throws {
        let mask = try ImageFixtures.decode("mask_37x29.png")
        let expected = try ImageFixtures.decode("mask_37x29_nearest_64x48.png")
        let tensor = mask.maskTensor(width: 64, height: 48)
        XCTAssertEqual(tensor.shape, [48, 64])
        XCTAssertEqual(tensor.scalars, sampleValues(expected).map { $0 > 0 ? 1 : 0 })
        XCTAssertTrue(mask.hasNonZeroColor)
        let faint = Image(width: 2, height: 1, channels: 2, samples: .uint8([0, 255, 1, 0]))
        XCTAssertEqual(faint.maskTensor(width: 2, height: 1).scalars, [0, 1])
    }

    func testBicubicTensorIsTheResizedImageOver255() throws {
        let noise = try ImageFixtures.decode("noise_37x29.png")
        let tensor = noise.bicubicTensor(width: 16, height: 16)
        let expected = try ImageFixtures.decode("noise_37x29_bicubic_16x16.png").tensor()
        XCTAssertEqual(tensor, expected)
    }

    func testSixteenBitBicubicTensorStaysInTheUnitRange() throws {
        let grey = try ImageFixtures.decode("noise_37x29_grey16.png")
        let tensor = grey.bicubicTensor(width: 64, height: 48)
        XCTAssertEqual(tensor.shape, [1, 3, 48, 64])
        XCTAssertTrue(tensor.scalars.allSatisfy { $0 >= 0 && $0 <= 1 })
        XCTAssertTrue(tensor.scalars.contains(0) || tensor.scalars.contains(1),
                      "noise overshoots, so some values must have been clamped")
    }

    func testSameSizeResizeIsACopy() throws {
        let noise = try ImageFixtures.decode("noise_37x29.png")
        XCTAssertEqual(noise.resizedBicubic(width: 37, height: 29), noise)
        XCTAssertEqual(noise.resizedNearest(width: 37, height: 29), noise)
    }
}
