// Real Eyecandies views from the shared data folder (MVAD_SHARED_DIR or ../shared): decoded and
// resized exactly as Pillow does it, and loaded as parts at 256 px. Skipped without the data.

import Foundation
import XCTest
@testable import MVADInspect

final class PartEyecandiesTests: XCTestCase {
    private func sharedFolder(_ name: String) throws -> URL {
        let folder = PartFixtures.sharedFolder.appendingPathComponent("data/eyecandies/" + name)
        guard PartFolder.isFolder(folder.path) else {
            throw XCTSkip("shared Eyecandies data not found at \(folder.path)")
        }
        return folder
    }

    func testGummyBearLoadsAtModelSize() throws {
        let folder = try sharedFolder("GummyBear-full")
        let parts = try PartFolder.parts(in: folder)
        XCTAssertEqual(parts.map(\.id), ["000"])
        let part = try XCTUnwrap(parts.first)
        XCTAssertTrue(part.lights.allSatisfy { $0 != nil })
        XCTAssertNotNil(part.normals)
        XCTAssertNil(part.mask)

        let loaded = try PartLoader.load(part, size: 256, modality: .both)
        XCTAssertEqual(loaded.lights?.shape, [6, 3, 256, 256])
        XCTAssertEqual(loaded.normals?.shape, [1, 3, 256, 256])
        XCTAssertNil(loaded.mask)
        XCTAssertEqual([loaded.originalWidth, loaded.originalHeight], [512, 512])
        for tensor in [loaded.lights, loaded.normals].compactMap({ $0 }) {
            XCTAssertTrue(tensor.scalars.allSatisfy { $0 >= 0 && $0 <= 1 })
        }
        let firstLight = try ImageDecoder.decode(contentsOf: try XCTUnwrap(part.lights[0]))
        let expected = firstLight.bicubicTensor(width: 256, height: 256)
        XCTAssertEqual(Array(try XCTUnwrap(loaded.lights).scalars.prefix(expected.count)),
                       expected.scalars)
    }

    /// The fixture script stored hashes of Pillow's decode and 256 px bicubic of these views.
    func testGummyBearPixelsEqualPillows() throws {
        let folder = try sharedFolder("GummyBear-full")
        guard let reference = try ImageFixtures.document().eyecandies else {
            throw XCTSkip("expected.json was written without the shared data")
        }
        for (name, hashes) in reference.views {
            let image = try ImageDecoder.decode(contentsOf: folder.appendingPathComponent(name))
            XCTAssertEqual([image.width, image.height, image.channels], [512, 512, 3], name)
            guard case .uint8(let decoded) = image.samples else { return XCTFail(name) }
            XCTAssertEqual(fnv1a64(decoded), hashes.decodedHash, "\(name): decoded pixels")
            guard case .uint8(let resized) = image.resizedBicubic(width: 256, height: 256).samples
            else { return XCTFail(name) }
            XCTAssertEqual(fnv1a64(resized), hashes.bicubicHash, "\(name): 256 px bicubic")
        }
    }

    func testLightsOnlyFolderLoadsForRGBButNotForBoth() throws {
        let folder = try sharedFolder("GummyBear-lights")
        let part = try XCTUnwrap(PartFolder.parts(in: folder).first)
        let loaded = try PartLoader.load(part, size: 256, modality: .rgb)
        XCTAssertEqual(loaded.lights?.shape, [6, 3, 256, 256])
        let normals = folder.appendingPathComponent("000_normals").path + ".{png,jpg,jpeg}"
        assertPartError(try PartLoader.load(part, size: 256, modality: .both)) {
            $0 == .missingViews(part: "000", modality: .both, paths: [normals])
        }
    }
}
