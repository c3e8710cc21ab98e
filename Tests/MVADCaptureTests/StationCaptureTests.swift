// The seven views end to end on the emulated station: one light at a time then all, fresh
// frames, brightness bands with bounded retries, a lost camera reopened with backoff, normal
// maps from photometric stereo or a depth camera, and the Eyecandies layout on disk.

import Foundation
import MVADCapture
import MVADCaptureEmulation
import MVADInspect
import XCTest

final class StationCaptureTests: XCTestCase {
    /// The level of each view: one light each, then all five.
    private let viewLevels: [Double] = (0..<6).map { view in
        let lit = (0..<5).map { view == 5 || $0 == view }
        return Double(sceneLevel(lit: lit)) * 5 / 6
    }

    private func bands(_ rig: EmulatedRig) -> [BrightnessBand] {
        viewLevels.map { BrightnessBand(min: $0 - 8, max: $0 + 8) }
    }

    func testSixViewsInModelOrderOneLightAtATime() throws {
        let rig = EmulatedRig()
        let station = try StationCapture(profile: rig.captureProfile(), system: rig.kernel)
        let part = try station.capture(part: "000")
        XCTAssertEqual(part.images.count, 6)
        for (view, image) in part.images.enumerated() {
            XCTAssertEqual(meanLevel(image), viewLevels[view], accuracy: 0.01, "view \(view)")
        }
        let record = part.record
        XCTAssertEqual(record.views.map(\.lights), [[0], [1], [2], [3], [4], [0, 1, 2, 3, 4]])
        for view in record.views {
            // What the chip actually drove during the exposure: exactly the view's lights.
            let lit = (0..<5).filter { rig.chip.isLit(offset: $0, at: view.exposureStartNanoseconds) }
            XCTAssertEqual(lit, view.lights)
            XCTAssertGreaterThanOrEqual(view.exposureStartNanoseconds,
                                        view.switchNanoseconds + 20_000_000)
        }
        XCTAssertEqual(record.views.map(\.sequence), record.views.map(\.sequence).sorted())
        XCTAssertEqual(record.controls.map(\.value), [1, 100, 40, 0, 5000])
        XCTAssertEqual((0..<5).filter { rig.chip.isLit(offset: $0, at: rig.kernel.now) }, [],
                       "all lights off after the part")
        XCTAssertNil(part.normals)
        XCTAssertEqual(record.normalsNote, "no normal map: RGB-only inspection")
    }

    func testLightThatDoesNotFireFailsThePartWithTheReason() throws {
        let rig = EmulatedRig()
        var profile = rig.captureProfile()
        profile.lights.brightnessBands = bands(rig)
        rig.chip.disconnected = [2]
        let station = try StationCapture(profile: profile, system: rig.kernel)
        XCTAssertThrowsError(try station.capture(part: "004")) { error in
            let failure = error as? StationCaptureError
            guard case .part(.notCaptured(let part, let view, let reasons))? = failure else {
                return XCTFail("expected notCaptured, got \(error)")
            }
            XCTAssertEqual(part, "004")
            XCTAssertEqual(view, 2)
            XCTAssertEqual(reasons.count, 3, "one attempt and max_retries = 2")
            // Light 2 dark: level 16 (R, G) and 8 (B), mean 13.3; band 48 * 5 / 6 = 40, +- 8.
            XCTAssertTrue(reasons.allSatisfy { $0.hasPrefix("mean brightness 13 outside 32...48") },
                          "\(reasons)")
        }
    }

    func testViewWithTooManyBadBuffersIsRetried() throws {
        let rig = EmulatedRig()
        var profile = rig.captureProfile()
        profile.camera.maximumBadFrames = 1
        let station = try StationCapture(profile: profile, system: rig.kernel)
        // Frame s starts before view 0's switch + settle (stale); s + 1 and s + 2 are its first
        // fresh frames and both arrive flagged, so the first attempt gives up; s + 3 is stale
        // for the second attempt, which then gets a good frame.
        let s = rig.camera.sequence(ofFirstFrameStartingAtOrAfter: rig.kernel.now)
        for k in 0..<4 { rig.camera.faults[s + UInt32(k)] = .errorFlag }
        let part = try station.capture(part: "001")
        XCTAssertEqual(part.record.views[0].retries,
                       ["2 unusable buffers, last: driver flagged the buffer as an error"])
        XCTAssertGreaterThan(part.record.views[0].sequence, s + 3)
        XCTAssertEqual(meanLevel(part.images[0]), viewLevels[0], accuracy: 0.01)
    }

    func testLostCameraIsReopenedWithBackoff() throws {
        let rig = EmulatedRig()
        let station = try StationCapture(profile: rig.captureProfile(), system: rig.kernel)
        _ = try station.capture(part: "000")
        rig.camera.unplug()
        rig.kernel.removeNode(at: EmulatedRig.cameraPath)
        let lost = rig.kernel.now
        let replacement = EmulatedCamera(scene: rig.camera.scene)
        rig.kernel.schedule(at: lost + 700_000_000) {
            rig.kernel.install(replacement, at: EmulatedRig.cameraPath)
        }
        let part = try station.capture(part: "001")
        XCTAssertEqual(part.record.reopenCount, 1)
        // Waits of 200 ms and 400 ms end before the camera is back; after 800 ms more it is.
        XCTAssertEqual(station.camera.failedAttempts.map(\.attempt), [1, 2])
        XCTAssertTrue(station.camera.failedAttempts.allSatisfy { $0.error.contains("ENOENT") })
        XCTAssertGreaterThanOrEqual(rig.kernel.now, lost + 1_400_000_000)
        XCTAssertEqual(replacement.streamOnCount, 1)
        XCTAssertEqual(meanLevel(part.images[3]), viewLevels[3], accuracy: 0.01)
    }

    func testCameraThatStaysGoneIsReported() throws {
        let rig = EmulatedRig()
        let station = try StationCapture(profile: rig.captureProfile(), system: rig.kernel)
        rig.camera.unplug()
        rig.kernel.removeNode(at: EmulatedRig.cameraPath)
        let lost = rig.kernel.now
        XCTAssertThrowsError(try station.capture(part: "002")) { error in
            guard case .cameraLost(let last, let failures)? = error as? StationCaptureError else {
                return XCTFail("expected cameraLost, got \(error)")
            }
            XCTAssertEqual(last, .openFailed(path: EmulatedRig.cameraPath, errno: .noEntry))
            XCTAssertEqual(failures.count, 5)
        }
        // 200 + 400 + 800 + 1600 + 3200 ms of backoff.
        XCTAssertGreaterThanOrEqual(rig.kernel.now - lost, 6_200_000_000)
        XCTAssertLessThan(rig.kernel.now - lost, 6_300_000_000)
    }

    func testPhotometricStereoPartWrittenInEyecandiesLayout() throws {
        let rig = EmulatedRig()
        let sphere = SphereScene(width: 64, height: 48, radius: 21)
        let chip = rig.chip
        rig.camera.scene = { time, _, _ in
            sphere.render(lights: (0..<5).filter { chip.isLit(offset: $0, at: time) },
                          sixteenBit: false, rgb: true)
        }
        var profile = rig.captureProfile()
        profile.normals.source = .photometricStereo
        profile.normals.lightDirections = SphereScene.directions
        profile.normals.shadowLevel = 2
        let station = try StationCapture(profile: profile, system: rig.kernel)
        let part = try station.capture(part: "000")
        let normals = try XCTUnwrap(part.normals)
        let (truth, mask) = sphere.truth
        let error = try XCTUnwrap(NormalField.decode(normals).meanAngularError(to: truth, mask: mask))
        XCTAssertLessThan(error, 2.0, "degrees, 8-bit views and 8-bit encoding")

        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("mvad-capture-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try CaptureWriter(root: folder).write(part)
        let parts = try PartFolder.parts(in: folder.appendingPathComponent("data"))
        XCTAssertEqual(parts.map(\.id), ["000"])
        XCTAssertEqual(parts[0].lights.compactMap { $0?.lastPathComponent },
                       (0..<6).map { "000_image_\($0).png" })
        XCTAssertEqual(parts[0].normals?.lastPathComponent, "000_normals.png")
        let back = try ImageDecoder.decode(contentsOf: try XCTUnwrap(parts[0].normals))
        XCTAssertEqual(back, normals)
        let json = try Data(contentsOf: folder.appendingPathComponent("data/000_capture.json"))
        let outcome = try JSONDecoder().decode(CaptureOutcome.self, from: json)
        XCTAssertEqual(outcome.record, part.record)
        XCTAssertEqual(outcome.record?.normalsSource, .photometricStereo)
    }

    func testNormalsFromADepthCamera() throws {
        let rig = EmulatedRig()
        // A plane facing the camera, tilted: n = (0.3, -0.2, -1) / |.| in the optical frame,
        // through (0, 0, 500 mm); depth in units of 0.01 mm.
        let raw = SIMD3<Double>(0.3, -0.2, -1)
        let n = raw / (raw * raw).sum().squareRoot()
        let d = (n * SIMD3(0, 0, 500)).sum()
        let depthCamera = EmulatedCamera(formats: [.z16], sizes: [(64, 48)]) { _, w, h in
            var values = [UInt16](repeating: 0, count: w * h)
            for y in 0..<h {
                for x in 0..<w {
                    let ray = SIMD3((Double(x) - 31.5) / 80, (Double(y) - 23.5) / 90, 1)
                    values[y * w + x] = UInt16((d / (n * ray).sum() * 100).rounded())
                }
            }
            return Image(width: w, height: h, channels: 1, samples: .uint16(values))
        }
        rig.kernel.install(depthCamera, at: "/dev/video1")
        var profile = rig.captureProfile()
        var second = DepthCameraProfile(camera: CameraProfile(
            device: "/dev/video1", pixelFormat: .z16, width: 64, height: 48,
            frameIntervalMicroseconds: 33_333))
        (second.fxPixels, second.fyPixels, second.cxPixels, second.cyPixels) = (80, 90, 31.5, 23.5)
        second.depthUnitMillimetres = 0.01
        profile.normals.source = .depthCamera
        profile.normals.depthCamera = second
        try profile.validate()
        let station = try StationCapture(profile: profile, system: rig.kernel)
        let normals = try XCTUnwrap(try station.capture(part: "000").normals)
        // (0.2822, 0.1881, 0.9407) encoded: (v + 1) / 2 * 255 = 163.5, 151.5, 247.4; the depth
        // steps of 0.01 mm move the first two across the rounding boundary.
        XCTAssertEqual(Double(normals.sample(x: 30, y: 20, channel: 0)), 163.5, accuracy: 1)
        XCTAssertEqual(Double(normals.sample(x: 30, y: 20, channel: 1)), 151.5, accuracy: 1)
        XCTAssertEqual(normals.sample(x: 30, y: 20, channel: 2), 247)
        var truth = NormalField(width: 64, height: 48)
        for p in 0..<(64 * 48) { truth.set(p, SIMD3(Float(n.x), Float(-n.y), Float(-n.z))) }
        XCTAssertLessThan(NormalField.decode(normals).meanAngularError(to: truth) ?? 180, 0.5)
    }
}
