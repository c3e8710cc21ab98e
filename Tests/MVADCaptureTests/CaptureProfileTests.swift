// The capture profile: the documented example decodes to the values it states, unknown keys
// are refused with the closest valid key, and the cross-field checks name what is wrong.

import Foundation
import MVADCapture
import XCTest

final class CaptureProfileTests: XCTestCase {
    private func decode(_ json: String) throws -> CaptureProfile {
        try JSONDecoder().decode(CaptureProfile.self, from: Data(json.utf8))
    }

    private let minimal = """
        {"camera": {"device": "/dev/video0", "pixel_format": "YUYV", "width": 640,
                    "height": 480, "frame_interval_us": 33333},
         "lights": {"gpio": {"chip": "/dev/gpiochip0", "lines": [1, 2, 3, 4, "L5"]}}}
        """

    func testDocumentedExampleDecodes() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../docs/capture-profile.example.json").standardized
        let profile = try CaptureProfile.load(path: url.path)
        XCTAssertEqual(profile.camera.pixelFormat, .mjpeg)
        XCTAssertEqual(profile.camera.frameIntervalMicroseconds, 33_333)
        XCTAssertEqual(profile.camera.manualControls,
                       ManualControls(exposureMicroseconds: 8000, gain: 16, whiteBalanceKelvin: 5000))
        XCTAssertEqual(profile.lights.gpio?.lines.last, .offset(21))
        XCTAssertEqual(profile.lights.gpio?.lines.first, .name("LIGHT_N"))
        XCTAssertEqual(profile.lights.settleMilliseconds, 30)
        XCTAssertEqual(profile.lights.brightnessBands?.last, BrightnessBand(min: 60, max: 240))
        XCTAssertEqual(profile.normals.source, .photometricStereo)
        XCTAssertEqual(profile.normals.ambient, .allLightsView)
        XCTAssertEqual(profile.reopen.initialBackoffMilliseconds, 200)
    }

    func testDefaults() throws {
        let profile = try decode(minimal)
        XCTAssertEqual(profile.camera.bufferCount, 4)
        XCTAssertNil(profile.camera.exposureMicroseconds)
        XCTAssertEqual(profile.lights.settleMilliseconds, 30)
        XCTAssertEqual(profile.lights.maximumRetries, 2)
        XCTAssertEqual(profile.normals.source, NormalsSource.none)
        XCTAssertEqual(profile.reopen.attempts, 5)
    }

    func testUnknownKeyIsRefusedWithTheClosestKey() throws {
        let json = minimal.replacingOccurrences(of: "\"frame_interval_us\"",
                                                with: "\"frame_intervall_us\"")
        XCTAssertThrowsError(try decode(json)) { error in
            let unknown = error as? UnknownKeyError
            XCTAssertEqual(unknown?.path, "camera")
            XCTAssertEqual(unknown?.key, "frame_intervall_us")
            XCTAssertEqual(unknown?.suggestion, "frame_interval_us")
        }
        let far = minimal.replacingOccurrences(of: "\"lights\": {", with: "\"lights\": {\"colour\": 1, ")
        XCTAssertThrowsError(try decode(far)) { error in
            XCTAssertEqual((error as? UnknownKeyError)?.key, "colour")
            XCTAssertNil((error as? UnknownKeyError)?.suggestion, "nothing is close to 'colour'")
        }
    }

    func testLoadNamesTheFileAndTheKey() throws {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("profile-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data(minimal.replacingOccurrences(of: "\"width\"", with: "\"widht\"").utf8).write(to: url)
        XCTAssertThrowsError(try CaptureProfile.load(path: url.path)) { error in
            XCTAssertEqual("\(error)", "capture profile '\(url.path)': unknown key 'widht' in "
                           + "'camera'; did you mean 'width'? (valid keys: buffer_count, device, "
                           + "exposure_us, frame_interval_us, gain, height, max_bad_frames, "
                           + "pixel_format, timeout_ms, white_balance_k, width)")
        }
    }

    func testCrossFieldChecks() throws {
        let fourLights = minimal.replacingOccurrences(of: "[1, 2, 3, 4, \"L5\"]", with: "[1, 2, 3, 4]")
        XCTAssertThrowsError(try decode(fourLights)) {
            XCTAssertEqual(($0 as? ProfileError)?.message,
                           "lights: 4 directional lights, expected 5 (views 0-4; view 5 is all on)")
        }
        let stereo = minimal.replacingOccurrences(
            of: "\"lights\"", with: "\"normals\": {\"source\": \"photometric_stereo\"}, \"lights\"")
        XCTAssertThrowsError(try decode(stereo)) {
            XCTAssertEqual(($0 as? ProfileError)?.message,
                           "normals.light_directions: photometric stereo needs 5 [x, y, z] directions")
        }
        let badFormat = minimal.replacingOccurrences(of: "YUYV", with: "H264")
        XCTAssertThrowsError(try decode(badFormat))
    }
}
