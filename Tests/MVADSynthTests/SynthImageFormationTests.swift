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
        var settings = SynthSettings.lambertian(size: 64)
        settings.ambient = 0.08
        let dataset = try SynthTestSupport.dataset(settings: settings)
        try dataset.write(to: root, counts: SplitCounts(train: 1, val: 0, test: 0))
        let category = root.appendingPathComponent("SynthCandy")
        let data = category.appendingPathComponent("train/data")
        let json = try lights(category)
        let ambient = try XCTUnwrap(json["ambient"] as? Double)
        XCTAssertEqual(ambient, 0.08)
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
        let views = try (0..<6).map {
            try SynthTestSupport.bytes(decode(data, "000_image_\($0).png"))
        }
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

    /// Photometric stereo from the files alone: per pixel, least squares for b in
    /// I_i - c = b . l_i over the five views (b = albedo * L * n) with l_i, L and the ambient
    /// fraction from lights.json. The ambient term c = ambient * albedo = ambient * |b| / L is
    /// found by fixed-point iteration (with one light elevation it is not separable linearly).
    /// normalize(b) must match the normal map, with and without ambient light.
    func testPhotometricStereoFromLightsJSONRecoversTheNormalMap() throws {
        for ambient in [0, 0.08] {
            var settings = SynthSettings.lambertian(size: 64)
            settings.ambient = ambient
            let folder = root.appendingPathComponent("ambient-\(ambient)")
            try SynthTestSupport.dataset(settings: settings)
                .write(to: folder, counts: SplitCounts(train: 1, val: 0, test: 0))
            let errors = try photometricStereoErrors(folder.appendingPathComponent("SynthCandy"))
            XCTAssertGreaterThan(errors.count, 150, "too few tilted, lit pixels to check")
            // 8-bit normals and views: about 0.2 degrees typical, 0.4 at the 95th percentile.
            XCTAssertLessThan(errors[errors.count / 2], 0.4, "median angle error in degrees")
            XCTAssertLessThan(errors[errors.count * 95 / 100], 0.8, "95th percentile in degrees")
        }
    }

    /// Sorted angles (degrees) between photometric-stereo normals and the normal map, over
    /// tilted pixels lit by all five lights.
    private func photometricStereoErrors(_ category: URL) throws -> [Double] {
        let data = category.appendingPathComponent("train/data")
        let json = try lights(category)
        let entries = try XCTUnwrap(json["lights"] as? [[String: Any]])
        let directions = try entries.map { try XCTUnwrap($0["direction"] as? [Double]) }
        let intensity = try XCTUnwrap(entries.first?["intensity"] as? Double)
        let ambientFraction = try XCTUnwrap(json["ambient"] as? Double) / intensity
        let normals = try SynthTestSupport.bytes(decode(data, "000_normals.png"))
        let views = try (0..<5).map {
            try SynthTestSupport.bytes(decode(data, "000_image_\($0).png"))
        }
        // The normal equations' matrix L^T L is shared by all pixels.
        var gram = [[Double]](repeating: [Double](repeating: 0, count: 3), count: 3)
        for l in directions {
            for r in 0..<3 { for c in 0..<3 { gram[r][c] += l[r] * l[c] } }
        }
        var errors: [Double] = []
        for pixel in 0..<(64 * 64) {
            let n = (0..<3).map { Double(normals[pixel * 3 + $0]) / 255 * 2 - 1 }
            let lit = directions.allSatisfy { zip($0, n).reduce(0) { $0 + $1.0 * $1.1 } > 0.1 }
            let green = views.map { Double($0[pixel * 3 + 1]) }
            guard lit, n[2] < 0.995, green.allSatisfy({ $0 > 8 && $0 < 250 }) else { continue }
            var b = [0.0, 0.0, 0.0]
            for _ in 0..<20 {
                let c = ambientFraction * (b[0] * b[0] + b[1] * b[1] + b[2] * b[2]).squareRoot()
                var system = gram.map { $0 + [0] }
                for (l, value) in zip(directions, green) {
                    for r in 0..<3 { system[r][3] += l[r] * (value - c) }
                }
                b = try XCTUnwrap(solve(system))
            }
            // Both vectors normalised: an 8-bit normal is only unit within about 0.7 %.
            let length = (b[0] * b[0] + b[1] * b[1] + b[2] * b[2]).squareRoot()
                * (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).squareRoot()
            let cosine = (b[0] * n[0] + b[1] * n[1] + b[2] * n[2]) / length
            errors.append(acos(min(1, cosine)) * 180 / Double.pi)
        }
        return errors.sorted()
    }

    /// Gauss-Jordan elimination with partial pivoting of an n x (n + 1) augmented matrix.
    private func solve(_ augmented: [[Double]]) -> [Double]? {
        var m = augmented
        let n = m.count
        for column in 0..<n {
            guard let pivot = (column..<n).max(by: { abs(m[$0][column]) < abs(m[$1][column]) }),
                  abs(m[pivot][column]) > 1e-12 else { return nil }
            m.swapAt(column, pivot)
            for row in 0..<n where row != column {
                let factor = m[row][column] / m[column][column]
                for c in column...n { m[row][c] -= factor * m[column][c] }
            }
        }
        return (0..<n).map { m[$0][n] / m[$0][$0] }
    }
}
