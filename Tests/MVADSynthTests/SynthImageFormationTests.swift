// The written files against the documented image formation: lit pixels recomputed by hand from
// lights.json, the normal PNG and the albedo; the normal map's encoding and axis convention;
// the 16-bit depth map.

import Foundation
import MVADInspect
import MVADSynth
import XCTest

final class SynthImageFormationTests: XCTestCase {
    private var root: URL!

    override func setUpWithError() throws {
        root = try SynthTestSupport.temporaryFolder()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    /// lights.json read with JSONSerialization, independently of the generator's Codable types.
    private func lights(_ category: URL) throws -> [String: Any] {
        let data = try Data(contentsOf: category.appendingPathComponent("lights.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    private func decode(_ folder: URL, _ name: String) throws -> Image {
        try ImageDecoder.decode(contentsOf: folder.appendingPathComponent(name))
    }

    func testLambertianViewsFollowLightsJSON() throws {
        let dataset = try SynthTestSupport.dataset(settings: .lambertian(size: 64))
        try dataset.write(to: root, counts: SplitCounts(train: 1, val: 0, test: 0))
        let category = root.appendingPathComponent("SynthCandy")
        let data = category.appendingPathComponent("train/data")
        let json = try lights(category)
        let ambient = try XCTUnwrap(json["ambient"] as? Double)
        XCTAssertEqual(json["specular"] as? Double, 0)
        let entries = try XCTUnwrap(json["lights"] as? [[String: Any]])
        XCTAssertEqual(entries.count, 5)
        let directions = try entries.map { try XCTUnwrap($0["direction"] as? [Double]) }
        let intensities = try entries.map { try XCTUnwrap($0["intensity"] as? Double) }
        for direction in directions {
            let length = direction.reduce(0) { $0 + $1 * $1 }.squareRoot()
            XCTAssertEqual(length, 1, accuracy: 1e-12)
        }

        let normals = try SynthTestSupport.bytes(decode(data, "000_normals.png"))
        let views = try (0..<6).map { try SynthTestSupport.bytes(decode(data, "000_image_\($0).png")) }
        let albedo = dataset.render(split: .train, index: 0).surface.albedo
        var worst = 0.0, total = 0.0, checked = 0
        for pixel in 0..<(64 * 64) {
            let n = (0..<3).map { Double(normals[pixel * 3 + $0]) / 255 * 2 - 1 }
            var expectedAllOn = [0.0, 0.0, 0.0]
            for k in 0..<5 {
                let cosine = zip(n, directions[k]).reduce(0) { $0 + $1.0 * $1.1 }
                for c in 0..<3 {
                    let a = Double(albedo[pixel * 3 + c])
                    let intensity = ambient * a + intensities[k] * a * max(0, cosine)
                    expectedAllOn[c] += intensity / 5
                    let error = abs(Double(views[k][pixel * 3 + c]) - 255 * intensity)
                    worst = max(worst, error)
                    total += error
                    checked += 1
                }
            }
            for c in 0..<3 {
                let error = abs(Double(views[5][pixel * 3 + c]) - 255 * expectedAllOn[c])
                worst = max(worst, error)
            }
        }
        // Rounding (0.5) plus 8-bit normals (each component within 1/255, so n.l within about
        // 0.007, times albedo and intensity below 1): under 2.5 steps everywhere.
        XCTAssertLessThan(worst, 2.5)
        XCTAssertLessThan(total / Double(checked), 0.6)
    }

    func testNormalMapIsUnitAndFollowsTheEyecandiesAxes() throws {
        let dataset = try SynthTestSupport.dataset()
        try dataset.write(to: root, counts: SplitCounts(train: 1, val: 0, test: 0))
        let data = root.appendingPathComponent("SynthCandy/train/data")
        let image = try decode(data, "000_normals.png")
        XCTAssertEqual(image.channels, 3)
        let normals = SynthTestSupport.bytes(image)
        let part = dataset.render(split: .train, index: 0)
        for pixel in 0..<(64 * 64) {
            let n = (0..<3).map { Double(normals[pixel * 3 + $0]) / 255 * 2 - 1 }
            let length = n.reduce(0) { $0 + $1 * $1 }.squareRoot()
            XCTAssertEqual(length, 1, accuracy: 0.012, "pixel \(pixel)")
        }
        // A belt pixel far from the candy: n = (0, 0, 1), stored as (128, 128, 255).
        XCTAssertFalse(part.surface.onObject[0])
        XCTAssertEqual(Array(normals[0..<3]), [128, 128, 255])

        // Eyecandies' convention (R = x right, G = y up, B = z to the camera): on a dome the
        // pixels left of the top point have R < 128, those above it (smaller rows) G > 128.
        let top = try XCTUnwrap(part.surface.height.indices.max {
            part.surface.height[$0] < part.surface.height[$1]
        })
        let (row, column) = (top / 64, top % 64)
        let left = (row * 64 + column - 6) * 3, above = ((row - 6) * 64 + column) * 3
        XCTAssertLessThan(normals[left], 120)
        XCTAssertGreaterThan(normals[above + 1], 136)
    }

    func testDepthMapIs16BitDistanceFromTheCamera() throws {
        let dataset = try SynthTestSupport.dataset()
        try dataset.write(to: root, counts: SplitCounts(train: 1, val: 0, test: 0))
        let category = root.appendingPathComponent("SynthCandy")
        let json = try lights(category)
        let depthInfo = try XCTUnwrap(json["depth"] as? [String: Any])
        let scale = try XCTUnwrap(depthInfo["scale"] as? Double)
        let camera = try XCTUnwrap(depthInfo["camera_height"] as? Double)
        XCTAssertEqual(camera, 32)                   // half the 64 px image size
        let image = try decode(category.appendingPathComponent("train/data"), "000_depth.png")
        XCTAssertEqual(image.bitDepth, 16)
        XCTAssertEqual(image.channels, 1)
        guard case .uint16(let depth) = image.samples else { return XCTFail("not 16-bit") }
        let height = dataset.render(split: .train, index: 0).surface.height
        for pixel in 0..<(64 * 64) {
            let expected = (scale * (camera - Double(height[pixel]))).rounded()
            XCTAssertEqual(Double(depth[pixel]), expected, accuracy: 1, "pixel \(pixel)")
        }
        XCTAssertEqual(depth[0], 65535)              // the belt
        XCTAssertLessThan(depth.min() ?? 65535, 60000)
    }

    func testSensorNoiseAndLightGainsHaveTheirStatedSpread() throws {
        var noisy = SynthSettings()
        noisy.size = 64
        noisy.sensorNoise = 2.0 / 255
        noisy.specular = 0
        var quiet = noisy
        quiet.sensorNoise = 0
        let dataset = try SynthTestSupport.dataset(settings: noisy)
        let recipe = dataset.recipe(split: .train, index: 0)
        let a = PartRenderer(settings: noisy).render(recipe)
        let b = PartRenderer(settings: quiet).render(recipe)
        for k in 0..<6 {
            let noise = zip(a.views[k], b.views[k]).map { Double($0 - $1) }
            let mean = noise.reduce(0, +) / Double(noise.count)
            let sd = (noise.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(noise.count))
                .squareRoot()
            // 12288 samples: the sd's standard error is about 0.6 %, the mean's 0.9 % of sd.
            XCTAssertEqual(sd * 255, 2, accuracy: 0.06, "view \(k)")
            XCTAssertEqual(mean * 255, 0, accuracy: 0.06, "view \(k)")
        }
        // Gains: sd 0.03 by default, one per light and part, all different.
        let gains = (0..<40).flatMap { dataset.recipe(split: .train, index: $0).lightGains }
        let mean = gains.reduce(0, +) / Double(gains.count)
        let sd = (gains.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(gains.count))
            .squareRoot()
        XCTAssertEqual(mean, 1, accuracy: 0.01)
        XCTAssertEqual(sd, 0.03, accuracy: 0.006)
    }
}
