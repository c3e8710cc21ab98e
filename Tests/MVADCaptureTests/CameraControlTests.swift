// Manual exposure, gain and white balance: automatic modes off first, values checked against
// QUERYCTRL ranges and steps, written, re-applied after STREAMON and read back; the values in
// force are what the session records.

import CLinuxUAPI
import MVADCapture
import MVADCaptureEmulation
import XCTest

final class CameraControlTests: XCTestCase {
    func testManualValuesAreInForceAndRecorded() throws {
        let rig = EmulatedRig()
        let session = try CameraSession(profile: rig.cameraProfile(), system: rig.kernel)
        XCTAssertEqual(rig.camera.controlValue(CameraControl.exposureAuto.id), 1, "manual")
        XCTAssertEqual(rig.camera.controlValue(CameraControl.exposureAbsolute.id), 100, "10 ms")
        XCTAssertEqual(rig.camera.controlValue(CameraControl.gain.id), 40)
        XCTAssertEqual(rig.camera.controlValue(CameraControl.autoWhiteBalance.id), 0)
        XCTAssertEqual(rig.camera.controlValue(CameraControl.whiteBalance.id), 5000)
        XCTAssertEqual(session.controls.map(\.name), [
            "exposure_auto", "exposure_time_absolute", "gain", "white_balance_automatic",
            "white_balance_temperature",
        ])
        XCTAssertEqual(session.controls.map(\.value), [1, 100, 40, 0, 5000])
    }

    func testAutoModeMustGoOffBeforeTheValueIsWritten() throws {
        // The emulated camera, like many UVC cameras, drops a manual exposure written while
        // auto exposure is on; the layer switches auto off first, so the value holds.
        let rig = EmulatedRig()
        let device = try VideoDevice(path: EmulatedRig.cameraPath, system: rig.kernel)
        let values = try device.applyManualControls(ManualControls(exposureMicroseconds: 20_000))
        XCTAssertEqual(values.last?.value, 200)
        XCTAssertEqual(try device.value(of: CameraControl.exposureAbsolute), 200)
    }

    func testControlsAreAppliedAgainAfterStreamOn() throws {
        let rig = EmulatedRig()
        rig.camera.resetsControlsOnStreamOn = true
        let session = try CameraSession(profile: rig.cameraProfile(), system: rig.kernel)
        XCTAssertEqual(rig.camera.streamOnCount, 1)
        XCTAssertEqual(rig.camera.controlValue(CameraControl.exposureAbsolute.id), 100)
        XCTAssertEqual(try session.verifyControls().map(\.value), [1, 100, 40, 0, 5000])
    }

    func testDriftedControlIsDetected() throws {
        let rig = EmulatedRig()
        let session = try CameraSession(profile: rig.cameraProfile(), system: rig.kernel)
        rig.camera.forceControl(CameraControl.gain.id, to: 41)
        XCTAssertThrowsError(try session.verifyControls()) {
            XCTAssertEqual($0 as? CameraError, .controlNotApplied(
                path: EmulatedRig.cameraPath, control: "gain", wrote: 40, readBack: 41))
        }
    }

    func testValueOutsideTheRangeIsAnError() throws {
        let rig = EmulatedRig()
        var profile = rig.cameraProfile()
        profile.exposureMicroseconds = 300_000          // 3000 units; the range is 3...2047
        XCTAssertThrowsError(try CameraSession(profile: profile, system: rig.kernel)) {
            XCTAssertEqual($0 as? CameraError, .controlValueInvalid(
                path: EmulatedRig.cameraPath, control: "exposure_time_absolute", value: 3000,
                minimum: 3, maximum: 2047, step: 1))
        }
    }

    func testValueOffTheStepIsAnError() throws {
        let rig = EmulatedRig()
        var profile = rig.cameraProfile()
        profile.whiteBalanceKelvin = 5005               // steps of 10 from 2800
        XCTAssertThrowsError(try CameraSession(profile: profile, system: rig.kernel)) {
            XCTAssertEqual($0 as? CameraError, .controlValueInvalid(
                path: EmulatedRig.cameraPath, control: "white_balance_temperature", value: 5005,
                minimum: 2800, maximum: 6500, step: 10))
        }
        profile.whiteBalanceKelvin = 5000
        profile.exposureMicroseconds = 10_050           // not a whole number of 100 us units
        XCTAssertThrowsError(try CameraSession(profile: profile, system: rig.kernel)) {
            guard case .controlValueInvalid(_, let name, let value, _, _, _)? = $0 as? CameraError
            else { return XCTFail("expected controlValueInvalid, got \($0)") }
            XCTAssertEqual(name, "exposure_time_absolute (us)")
            XCTAssertEqual(value, 10_050)
        }
    }

    func testMissingControlIsAnError() throws {
        let rig = EmulatedRig()
        rig.camera.removeControl(CameraControl.gain.id)
        XCTAssertThrowsError(try CameraSession(profile: rig.cameraProfile(), system: rig.kernel)) {
            XCTAssertEqual($0 as? CameraError, .controlMissing(path: EmulatedRig.cameraPath,
                                                               control: "gain"))
        }
    }

    func testManualControlsOnRealCamera() throws {
        let path = try RealDevices.camera()
        let device = try VideoDevice(path: path, system: LinuxSystemCalls())
        defer { device.close() }
        let current = try device.value(of: CameraControl.exposureAbsolute)
        let values = try device.applyManualControls(
            ManualControls(exposureMicroseconds: Int(current) * 100))
        XCTAssertEqual(try device.value(of: CameraControl.exposureAuto), CameraControl.exposureManual)
        XCTAssertEqual(values.last?.value, current)
    }
}
