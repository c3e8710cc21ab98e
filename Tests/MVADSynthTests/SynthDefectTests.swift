// Defects and their masks: albedo defects leave geometry bit-identical, geometry defects leave
// albedo bit-identical, a missing piece changes both, and the mask is exactly where the part
// differs from its defect-free twin, inside bounds computed from the defect's own parameters.

import Foundation
import MVADInspect
import MVADSynth
import XCTest

final class SynthDefectTests: XCTestCase {
    private func pair(_ kind: DefectKind, seed: UInt64 = 11) throws
        -> (defective: RenderedPart, good: RenderedPart, defect: DefectParameters) {
        var settings = SynthSettings()
        settings.size = 128
        let dataset = try SynthTestSupport.dataset(settings: settings)
        let recipe = dataset.sampler.recipe(seed: seed, defect: kind)
        let defect = try XCTUnwrap(recipe.defects.first)
        return (dataset.renderer.render(recipe), dataset.renderer.render(recipe.withoutDefects),
                defect)
    }

    /// Pixels whose centre lies within `radius` of the defect's centre.
    private func disc(_ defect: DefectParameters, radius: Double, size: Int) -> [Bool] {
        (0..<(size * size)).map { pixel in
            let dx = Double(pixel % size) + 0.5 - defect.centerX
            let dy = Double(pixel / size) + 0.5 - defect.centerY
            return (dx * dx + dy * dy).squareRoot() <= radius
        }
    }

    /// The views differ (float) at every mask pixel and nowhere else; the 8-bit files agree
    /// outside the mask.
    private func assertViewsDifferExactlyInside(_ defective: RenderedPart, _ good: RenderedPart,
                                                views: [Int], file: StaticString = #filePath,
                                                line: UInt = #line) {
        for k in 0..<6 {
            let differ = SynthTestSupport.differingPixels(defective.views[k], good.views[k],
                                                          channels: 3)
            for pixel in differ.indices where differ[pixel] && !defective.mask[pixel] {
                XCTFail("view \(k) differs outside the mask at pixel \(pixel)", file: file,
                        line: line)
                return
            }
            let files = SynthTestSupport.differingPixels(
                SynthTestSupport.bytes(defective.viewImage(k)),
                SynthTestSupport.bytes(good.viewImage(k)), channels: 3)
            XCTAssertFalse(zip(files, defective.mask).contains { $0 && !$1 },
                           "image_\(k).png differs outside the mask", file: file, line: line)
            if views.contains(k) {
                let inside = zip(differ, defective.mask).filter { $1 }.filter { $0.0 }.count
                XCTAssertEqual(inside, defective.maskPixelCount,
                               "view \(k) must differ at every mask pixel", file: file, line: line)
            }
        }
    }

    func testStainChangesAlbedoOnlyAndExactlyInsideTheMask() throws {
        for kind in [DefectKind.stain, .discolouration] {
            let (defective, good, defect) = try pair(kind)
            XCTAssertGreaterThan(defective.maskPixelCount, 10, "\(kind)")
            XCTAssertEqual(defective.surface.height, good.surface.height)
            XCTAssertEqual(defective.normals, good.normals)
            XCTAssertEqual(defective.depth, good.depth)
            XCTAssertEqual(defective.normalImage, good.normalImage)
            XCTAssertEqual(defective.depthImage, good.depthImage)
            let albedo = SynthTestSupport.differingPixels(defective.surface.albedo,
                                                          good.surface.albedo, channels: 3)
            XCTAssertEqual(albedo, defective.mask, "\(kind): the mask is the changed albedo")
            // The outline radius is at most radius * (1 + both wobbles); all on the candy.
            let bound = disc(defect, radius: defect.radius * (1 + defect.wobble.reduce(0, +)),
                             size: 128)
            XCTAssertFalse(zip(defective.mask, bound).contains { $0 && !$1 }, "\(kind)")
            XCTAssertFalse(zip(defective.mask, good.surface.onObject).contains { $0 && !$1 })
            assertViewsDifferExactlyInside(defective, good, views: [0, 1, 2, 3, 4, 5])
            // Visible in the 8-bit all-on view: most mask pixels change by 2 steps or more.
            let a = SynthTestSupport.bytes(defective.viewImage(5))
            let b = SynthTestSupport.bytes(good.viewImage(5))
            let visible = defective.mask.indices.filter { pixel in
                defective.mask[pixel] && (0..<3).contains {
                    abs(Int(a[pixel * 3 + $0]) - Int(b[pixel * 3 + $0])) >= 2
                }
            }
            XCTAssertGreaterThan(Double(visible.count), 0.9 * Double(defective.maskPixelCount),
                                 "\(kind)")
        }
    }

    func testGeometryDefectsChangeNormalsOnlyInsideTheMask() throws {
        for kind in [DefectKind.dent, .bump, .scratch] {
            let (defective, good, defect) = try pair(kind)
            XCTAssertGreaterThan(defective.maskPixelCount, 10, "\(kind)")
            XCTAssertEqual(defective.surface.albedo, good.surface.albedo, "\(kind)")
            let normals = SynthTestSupport.differingPixels(defective.normals, good.normals,
                                                           channels: 3)
            let heights = SynthTestSupport.differingPixels(defective.surface.height,
                                                           good.surface.height, channels: 1)
            XCTAssertFalse(zip(normals, defective.mask).contains { $0 && !$1 }, "\(kind)")
            XCTAssertFalse(zip(heights, defective.mask).contains { $0 && !$1 }, "\(kind)")
            // Central differences spread a height change by at most one pixel (diagonal 1.5).
            let reach = kind == .scratch ? defect.length / 2 + defect.radius : defect.radius
            let bound = disc(defect, radius: reach + 1.5, size: 128)
            XCTAssertFalse(zip(defective.mask, bound).contains { $0 && !$1 }, "\(kind)")
            // Clear in the 8-bit normal map: a good share of the mask moves by >= 8 steps.
            let a = SynthTestSupport.bytes(defective.normalImage)
            let b = SynthTestSupport.bytes(good.normalImage)
            let files = SynthTestSupport.differingPixels(a, b, channels: 3)
            XCTAssertFalse(zip(files, defective.mask).contains { $0 && !$1 }, "\(kind)")
            let clear = defective.mask.indices.filter { pixel in
                (0..<3).contains { abs(Int(a[pixel * 3 + $0]) - Int(b[pixel * 3 + $0])) >= 8 }
            }
            XCTAssertGreaterThan(Double(clear.count), 0.2 * Double(defective.maskPixelCount),
                                 "\(kind)")
            assertViewsDifferExactlyInside(defective, good, views: [])
        }
    }

    func testMissingPieceChangesAlbedoAndGeometry() throws {
        let (defective, good, defect) = try pair(.missing)
        XCTAssertGreaterThan(defective.maskPixelCount, 30)
        let albedo = SynthTestSupport.differingPixels(defective.surface.albedo,
                                                      good.surface.albedo, channels: 3)
        let heights = SynthTestSupport.differingPixels(defective.surface.height,
                                                       good.surface.height, channels: 1)
        XCTAssertGreaterThan(albedo.filter { $0 }.count, 30)
        XCTAssertGreaterThan(heights.filter { $0 }.count, 30)
        XCTAssertNotEqual(defective.normalImage, good.normalImage)
        XCTAssertNotEqual(defective.depthImage, good.depthImage)
        // Where the piece is gone: height 0 and the belt's albedo.
        for pixel in albedo.indices where albedo[pixel] {
            XCTAssertEqual(defective.surface.height[pixel], 0)
            for c in 0..<3 {
                XCTAssertEqual(defective.surface.albedo[pixel * 3 + c],
                               defective.surface.beltAlbedo[pixel * 3 + c])
            }
        }
        let bound = disc(defect, radius: defect.radius * (1 + defect.wobble.reduce(0, +)) + 1.5,
                         size: 128)
        XCTAssertFalse(zip(defective.mask, bound).contains { $0 && !$1 })
        XCTAssertFalse(zip(albedo, defective.mask).contains { $0 && !$1 })
        assertViewsDifferExactlyInside(defective, good, views: [])
    }

    func testGoodPartsHaveAnEmptyMask() throws {
        let dataset = try SynthTestSupport.dataset()
        for index in [0, 2] {
            let part = dataset.render(split: .testPublic, index: index)
            XCTAssertTrue(part.recipe.defects.isEmpty)
            XCTAssertEqual(part.maskPixelCount, 0)
        }
    }
}
