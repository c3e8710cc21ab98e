// Part loading tests: shapes and values per modality, views a modality does not need are not
// read, and the missing view / mismatched size / invalid size errors name the files.

import Foundation
import MVADEngine
import XCTest
@testable import MVADInspect

final class PartLoaderTests: XCTestCase {
    private var folder = URL(fileURLWithPath: NSTemporaryDirectory())

    override func setUpWithError() throws {
        folder = try ImageFixtures.scratchFolder()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private func onlyPart() throws -> PartViews {
        let parts = try PartFolder.parts(in: folder)
        XCTAssertEqual(parts.count, 1)
        return try XCTUnwrap(parts.first)
    }

    func testBothModalitiesLoadAtTheModelSize() throws {
        try PartFixtures.writeEyecandiesPart(folder, id: "000", mask: true)
        let loaded = try PartLoader.load(try onlyPart(), size: 4, modality: .both)
        XCTAssertEqual(loaded.id, "000")
        XCTAssertEqual(loaded.lights?.shape, [6, 3, 4, 4])
        XCTAssertEqual(loaded.normals?.shape, [1, 3, 4, 4])
        XCTAssertEqual(loaded.mask?.shape, [4, 4])
        XCTAssertEqual([loaded.originalWidth, loaded.originalHeight], [8, 8])

        // Light k is the colour (10k, 10k + 1, 10k + 2): a constant image stays constant.
        let lights = try XCTUnwrap(loaded.lights)
        for light in 0..<6 {
            let red = lights.scalars[light * 48]
            let blue = lights.scalars[light * 48 + 32]
            XCTAssertEqual(red, Float(10 * light) / 255)
            XCTAssertEqual(blue, Float(10 * light + 2) / 255)
        }
        XCTAssertEqual(loaded.mask?.scalars.reduce(0, +), 1, "one defect pixel survives 8 -> 4")
    }

    func testViewsAreResizedWithPillowsBicubic() throws {
        let noise = try ImageFixtures.bytes("noise_37x29.png")
        for light in 0..<6 {
            try Data(noise).write(to: folder.appendingPathComponent("image_\(light).png"))
        }
        let loaded = try PartLoader.load(try onlyPart(), size: 16, modality: .rgb)
        let expected = try ImageFixtures.decode("noise_37x29_bicubic_16x16.png").tensor()
        XCTAssertEqual(Array(try XCTUnwrap(loaded.lights).scalars.suffix(768)), expected.scalars)
    }

    func testRGBModalityNeedsNoNormals() throws {
        for light in 0..<6 { try PartFixtures.writeView(folder, "image_\(light).png") }
        let loaded = try PartLoader.load(try onlyPart(), size: 4, modality: .rgb)
        XCTAssertEqual(loaded.lights?.shape, [6, 3, 4, 4])
        XCTAssertNil(loaded.normals)
        XCTAssertNil(loaded.mask)
    }

    func testViewsTheModalityDoesNotNeedAreNotRead() throws {
        try PartFixtures.writeEyecandiesPart(folder, id: "000")
        let normals = folder.appendingPathComponent("000_normals.png")
        try Data("not an image".utf8).write(to: normals)
        let part = try onlyPart()
        XCTAssertNoThrow(try PartLoader.load(part, size: 4, modality: .rgb))
        assertImageError(try PartLoader.load(part, size: 4, modality: .both)) {
            if case .notAnImage(normals.path, _) = $0 { return true }
            return false
        }
        for light in 0..<6 {
            try Data().write(to: folder.appendingPathComponent("000_image_\(light).png"))
        }
        XCTAssertThrowsError(try PartLoader.load(part, size: 4, modality: .rgb))
    }

    func testNormalsModalityReadsOnlyTheNormalMap() throws {
        try PartFixtures.writeView(folder, "003_normals.png", value: 200)
        let loaded = try PartLoader.load(try onlyPart(), size: 2, modality: .normals)
        XCTAssertNil(loaded.lights)
        XCTAssertEqual(loaded.normals?.scalars.first, Float(200) / 255)
    }

    func testMissingViewsAreNamedWithTheModality() throws {
        for light in [0, 1, 2, 4, 5] {
            try PartFixtures.writeView(folder, "000_image_\(light).png")
        }
        let part = try onlyPart()
        let missingLight = folder.appendingPathComponent("000_image_3").path + ".{png,jpg,jpeg}"
        let missingNormals = folder.appendingPathComponent("000_normals").path + ".{png,jpg,jpeg}"
        let error = assertPartError(try PartLoader.load(part, size: 4, modality: .both)) {
            $0 == .missingViews(part: "000", modality: .both, paths: [missingLight, missingNormals])
        }
        let text = error?.description ?? ""
        XCTAssertTrue(text.contains("modality 'both'") && text.contains(missingLight), text)
        assertPartError(try PartLoader.load(part, size: 4, modality: .normals)) {
            $0 == .missingViews(part: "000", modality: .normals, paths: [missingNormals])
        }
    }

    func testViewsOfDifferentSizesNameTheFileAndBothSizes() throws {
        try PartFixtures.writeEyecandiesPart(folder, id: "000")
        try PartFixtures.writeView(folder, "000_image_4.png", width: 8, height: 6)
        let error = assertPartError(try PartLoader.load(try onlyPart(), size: 4, modality: .rgb)) {
            $0 == .sizeMismatch(file: self.folder.appendingPathComponent("000_image_4.png").path,
                                width: 8, height: 6,
                                referenceFile: self.folder.appendingPathComponent(
                                    "000_image_0.png").path,
                                referenceWidth: 8, referenceHeight: 8)
        }
        XCTAssertTrue(error?.description.contains("is 8 x 6 pixels") ?? false)
    }

    func testMaskOfAnotherSizeIsAnError() throws {
        try PartFixtures.writeEyecandiesPart(folder, id: "000")
        try PartFixtures.writeMask(folder, "000_mask.png", width: 4, height: 4, defect: true)
        let part = try onlyPart()
        assertPartError(try PartLoader.load(part, size: 4, modality: .both)) {
            if case .sizeMismatch(let file, 4, 4, _, 8, 8) = $0 {
                return file.hasSuffix("mask.png")
            }
            return false
        }
        XCTAssertNoThrow(try PartLoader.load(part, size: 4, modality: .both, includeMask: false))
    }

    func testModelSizeMustBePositive() throws {
        try PartFixtures.writeEyecandiesPart(folder, id: "000")
        assertPartError(try PartLoader.load(try onlyPart(), size: 0, modality: .rgb)) {
            $0 == .invalidSize(0)
        }
    }
}
