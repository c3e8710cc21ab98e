// Normal maps: photometric stereo on analytic renders of a sphere (known normals, Lambertian,
// with and without a specular highlight and shadows), normals from the depth of a tilted plane,
// and the Eyecandies encoding.

import Foundation
import MVADCapture
import MVADInspect
import XCTest

/// Renders a sphere filling most of the image under directional lights, orthographic camera
/// looking down -z: intensity = ambient + albedo * max(0, l.n) + specular * max(0, n.h)^shine.
struct SphereScene {
    var width = 64
    var height = 64
    var radius = 28.0
    var ambient = 20.0
    var albedo = 60.0
    var specular = 0.0
    var shininess = 60.0
    static let directions: [[Double]] = (0..<5).map { k in
        let azimuth = Double(k) * 2 * Double.pi / 5
        let elevation = 40.0 * Double.pi / 180          // from the optical axis
        return [cos(azimuth) * sin(elevation), sin(azimuth) * sin(elevation), cos(elevation)]
    }

    /// The true normal at a pixel, or nil off the sphere.
    func normal(x: Int, y: Int) -> SIMD3<Double>? {
        let u = (Double(x) + 0.5 - Double(width) / 2) / radius
        let v = -(Double(y) + 0.5 - Double(height) / 2) / radius
        let r2 = u * u + v * v
        guard r2 < 0.98 else { return nil }
        return SIMD3(u, v, (1 - r2).squareRoot())
    }

    func intensity(_ n: SIMD3<Double>?, lights: [Int]) -> Double {
        guard let n else { return ambient }
        var value = ambient
        for k in lights {
            let l = SIMD3(SphereScene.directions[k][0], SphereScene.directions[k][1],
                          SphereScene.directions[k][2])
            value += albedo * max(0, (l * n).sum())
            let half = l + SIMD3(0, 0, 1)
            let h = half / (half * half).sum().squareRoot()
            if (l * n).sum() > 0 { value += specular * pow(max(0, (n * h).sum()), shininess) }
        }
        return value
    }

    /// The view lit by `lights`, as 8- or 16-bit grey (or 8-bit RGB).
    func render(lights: [Int], sixteenBit: Bool, rgb: Bool = false) -> Image {
        var values: [Double] = []
        for y in 0..<height {
            for x in 0..<width { values.append(intensity(normal(x: x, y: y), lights: lights)) }
        }
        if sixteenBit {
            return Image(width: width, height: height, channels: 1, samples: .uint16(values.map {
                UInt16(max(0, min(65535, ($0 / 255 * 65535).rounded())))
            }))
        }
        let bytes = values.map { UInt8(max(0, min(255, $0.rounded()))) }
        if rgb {
            return Image(width: width, height: height, channels: 3,
                         samples: .uint8(bytes.flatMap { [$0, $0, $0] }))
        }
        return Image(width: width, height: height, channels: 1, samples: .uint8(bytes))
    }

    var truth: (field: NormalField, mask: [Bool]) {
        var field = NormalField(width: width, height: height)
        var mask = [Bool](repeating: false, count: width * height)
        for y in 0..<height {
            for x in 0..<width {
                guard let n = normal(x: x, y: y) else { continue }
                field.set(y * width + x, SIMD3<Float>(Float(n.x), Float(n.y), Float(n.z)))
                mask[y * width + x] = true
            }
        }
        return (field, mask)
    }

    /// Photometric stereo on this scene; returns the mean angular error over the sphere
    /// pixels that were solved and the fraction solved.
    func solve(sixteenBit: Bool, dropsBrightest: Bool = true) -> (error: Double, solved: Double) {
        let views = (0..<5).map { render(lights: [$0], sixteenBit: sixteenBit) }
        let all = render(lights: Array(0..<5), sixteenBit: sixteenBit)
        let stereo = PhotometricStereo(directions: SphereScene.directions, shadowLevel: 2,
                                       ambient: .allLightsView, dropsBrightest: dropsBrightest)
        let field = stereo.normals(views: views, allLights: all)
        let (truth, mask) = self.truth
        let used = zip(mask, field.valid).map { $0 && $1 }
        let solved = Double(used.filter { $0 }.count) / Double(mask.filter { $0 }.count)
        return (field.meanAngularError(to: truth, mask: used) ?? 180, solved)
    }
}

final class NormalsTests: XCTestCase {
    func testLambertianSphereIsRecoveredExactly() {
        let (error, solved) = SphereScene().solve(sixteenBit: true)
        // Exact where three or more lights reach a pixel; the rim pixels lit by fewer get the
        // rough three-brightest solution, which keeps the mean just above zero.
        XCTAssertLessThan(error, 0.2, "degrees")
        XCTAssertEqual(solved, 1, "every sphere pixel gets a normal")
    }

    func testEightBitViewsStayWithinADegree() {
        let (error, _) = SphereScene().solve(sixteenBit: false)
        XCTAssertLessThan(error, 1.0, "degrees")
    }

    func testSpecularSampleIsDropped() {
        var scene = SphereScene()
        scene.specular = 60
        let robust = scene.solve(sixteenBit: true)
        let plain = scene.solve(sixteenBit: true, dropsBrightest: false)
        XCTAssertLessThan(robust.error, 1.5, "degrees")
        XCTAssertGreaterThan(plain.error, robust.error * 2, "the highlight biases plain least squares")
    }

    func testAmbientMustBeRemoved() {
        // Without removing the ambient, the same views give visibly wrong normals.
        let scene = SphereScene()
        let views = (0..<5).map { scene.render(lights: [$0], sixteenBit: true) }
        let field = PhotometricStereo(directions: SphereScene.directions, ambient: .none)
            .normals(views: views)
        let (truth, mask) = scene.truth
        let used = zip(mask, field.valid).map { $0 && $1 }
        XCTAssertGreaterThan(field.meanAngularError(to: truth, mask: used) ?? 0, 3)
    }

    func testEncodingIsEyecandies() {
        var field = NormalField(width: 3, height: 1)
        field.set(0, SIMD3(0, 0, 1))
        field.set(1, SIMD3(-1, 0, 0))
        field.set(2, SIMD3(0.6, -0.8, 0))
        // (n + 1) / 2 * 255, rounded: 0 -> 127.5 -> 128, 0.6 -> 204; -0.8 is -0.80000001 as
        // a Float, so 25.4999 -> 25.
        XCTAssertEqual(field.encoded().samples, .uint8([128, 128, 255, 0, 128, 128, 204, 25, 128]))
        let back = NormalField.decode(field.encoded())
        XCTAssertLessThan(back.meanAngularError(to: field) ?? 180, 0.5)
    }

    func testTiltedPlaneFromDepth() {
        let intrinsics = Intrinsics(fx: 80, fy: 90, cx: 31.5, cy: 23.5)
        // Plane n . P = d in the optical frame (y down, z forward), facing the camera.
        let raw = SIMD3<Double>(0.3, -0.2, -1)
        let n = raw / (raw * raw).sum().squareRoot()
        let d = (n * SIMD3(0, 0, 500)).sum()
        var depth = [Float](repeating: 0, count: 64 * 48)
        for y in 0..<48 {
            for x in 0..<64 {
                let ray = SIMD3((Double(x) - 31.5) / 80, (Double(y) - 23.5) / 90, 1)
                depth[y * 64 + x] = Float(d / (n * ray).sum())
            }
        }
        depth[10 * 64 + 10] = 0                         // a hole: no measurement
        let field = NormalsFromDepth.normals(depth: depth, width: 64, height: 48,
                                             intrinsics: intrinsics)
        var truth = NormalField(width: 64, height: 48)
        for p in 0..<(64 * 48) { truth.set(p, SIMD3(Float(n.x), Float(-n.y), Float(-n.z))) }
        XCTAssertFalse(field.valid[10 * 64 + 10])
        XCTAssertTrue(field.valid[10 * 64 + 11], "neighbours of a hole use one-sided differences")
        XCTAssertLessThan(field.meanAngularError(to: truth) ?? 180, 0.01)
        // The expected normal in the map frame, worked by hand: (0.3, 0.2, 1) / 1.0630.
        XCTAssertEqual(field.normal(0).x, 0.2822, accuracy: 1e-3)
        XCTAssertEqual(field.normal(0).y, 0.1881, accuracy: 1e-3)
        XCTAssertEqual(field.normal(0).z, 0.9407, accuracy: 1e-3)
    }
}
