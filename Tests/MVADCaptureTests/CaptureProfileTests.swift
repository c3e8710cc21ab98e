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

    /// Directions photometric stereo cannot solve from are refused when the profile is read,
    /// not met by the solver during a capture.
    func testDegenerateLightDirectionsAreRefused() throws {
        func withDirections(_ list: String) -> String {
            minimal.replacingOccurrences(
                of: "\"lights\"", with: "\"normals\": {\"source\": \"photometric_stereo\", "
                    + "\"light_directions\": \(list)}, \"lights\"")
        }
        let ring = "[[0.5, 0, 0.866], [-0.5, 0, 0.866], [0, 0.5, 0.866], [0, -0.5, 0.866], "
            + "[0.354, 0.354, 0.866]]"
        XCTAssertNoThrow(try decode(withDirections(ring)))
        let cases = [
            ("[[0, 0, 0], [-0.5, 0, 0.866], [0, 0.5, 0.866], [0, -0.5, 0.866], [0.3, 0.3, 0.9]]",
             "direction 0 [0.0, 0.0, 0.0] is zero or not finite"),
            ("[[0.5, 0, -0.866], [-0.5, 0, 0.866], [0, 0.5, 0.866], [0, -0.5, 0.866], [0.3, 0.3, 0.9]]",
             "direction 0 [0.5, 0.0, -0.866] points away from the camera"),
            ("[[0.5, 0, 0.866], [0.5, 0, 0.866], [0, 0.5, 0.866], [0, -0.5, 0.866], [0.3, 0.3, 0.9]]",
             "directions 0, 1 and 2 lie (nearly) in one plane"),
            // three lights in one vertical plane (x = 0)
            ("[[0.5, 0, 0.866], [0, 0.5, 0.866], [0, -0.5, 0.866], [0, 0, 1], [0.3, 0.3, 0.9]]",
             "directions 1, 2 and 3 lie (nearly) in one plane"),
        ]
        for (list, expected) in cases {
            XCTAssertThrowsError(try decode(withDirections(list)), list) {
                let message = ($0 as? ProfileError)?.message ?? "\($0)"
                XCTAssertTrue(message.hasPrefix("normals.light_directions: " + expected), message)
            }
        }
    }

    /// Decoding mistakes in words: the valid choices of a named value, a fraction where a whole
    /// number goes, JSON that is not an object, a syntax error with its place.
    func testDecodingMistakesAreExplained() throws {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("profile-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: url) }
        func message(_ json: String) -> String {
            do {
                try Data(json.utf8).write(to: url)
                _ = try CaptureProfile.load(path: url.path)
                return "loaded"
            } catch {
                return (error as? ProfileError)?.message ?? "\(error)"
            }
        }
        XCTAssertEqual(message(minimal.replacingOccurrences(of: "YUYV", with: "H264")),
                       "'camera.pixel_format': 'H264' is not one of "
                       + PixelFormat.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", "))
        XCTAssertEqual(message(minimal.replacingOccurrences(of: "640", with: "640.5")),
                       "a number does not fit its key (a fraction, or too large, where a whole "
                       + "number goes); this decoder does not say which key")
        XCTAssertEqual(message(minimal.replacingOccurrences(of: "640", with: "\"640\"")),
                       "'camera.width': expected a whole number, found another kind of value")
        XCTAssertEqual(message("[1, 2]"),
                       "the file must hold one JSON object ({ ... }), found something else")
        XCTAssertEqual(message("{\n  \"camera\": }"), "not valid JSON at line 2, column 13")
        XCTAssertTrue(message("{\"model\": {}}").contains("this looks like a station profile"))
    }
}
