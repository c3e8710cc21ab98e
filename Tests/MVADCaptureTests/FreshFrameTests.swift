// The frame-validity rule on the emulated camera: stale frames after a light switch are passed
// over (start-of-exposure and end-of-frame timestamps), error-flagged, short and corrupt MJPEG
// buffers are dropped, and a vanished or hung camera is reported as such.

import MVADCapture
import MVADCaptureEmulation
import MVADInspect
import XCTest

final class FreshFrameTests: XCTestCase {
    /// The rig streaming with LIGHT_0 on long enough to fill every buffer, then switched to
    /// LIGHT_1 only; returns the session, the light request and the switch time.
    private func switchAfterFullQueue(_ rig: EmulatedRig, format: PixelFormat = .rgb24) throws
        -> (CameraSession, GPIOLineRequest, UInt64) {
        let chip = try GPIOChip(path: EmulatedRig.chipPath, system: rig.kernel)
        let lights = try chip.request(offsets: Array(0..<5), direction: .output(initialValue: false),
                                      consumer: "test")
        try lights.set([true, false, false, false, false])
        let session = try CameraSession(profile: rig.cameraProfile(format), system: rig.kernel)
        rig.kernel.sleep(nanoseconds: 300_000_000)
        try lights.set([false, true, false, false, false])
        return (session, lights, rig.kernel.now)
    }

    private let lightZeroLevel = Double(sceneLevel(lit: [true, false, false, false, false])) * 5 / 6
    private let lightOneLevel = Double(sceneLevel(lit: [false, true, false, false, false])) * 5 / 6

    func testTheFirstBufferAfterASwitchIsStale() throws {
        // What the rule guards against: without it the next buffer shows the previous light.
        let rig = EmulatedRig()
        let (session, _, _) = try switchAfterFullQueue(rig)
        let first = try XCTUnwrap(try session.device.dequeue())
        let image = try FrameDecoder(format: session.format).decode(first.bytes).get()
        XCTAssertEqual(meanLevel(image), lightZeroLevel, accuracy: 0.01)
    }

    func testStaleFramesArePassedOverWithStartOfExposureStamps() throws {
        let rig = EmulatedRig(timestampSource: .startOfExposure)
        let (session, _, switchTime) = try switchAfterFullQueue(rig)
        let settle: UInt64 = 20_000_000
        let frame = try session.grabber(settleMilliseconds: 20).grab(after: switchTime)
        XCTAssertEqual(meanLevel(frame.image), lightOneLevel, accuracy: 0.01)
        XCTAssertGreaterThanOrEqual(frame.exposureStartNanoseconds, switchTime + settle)
        XCTAssertEqual(frame.timestampSource, .startOfExposure)
        XCTAssertGreaterThanOrEqual(frame.staleBuffers.count, 4, "the four full buffers")
        XCTAssertEqual(frame.sequence,
                       rig.camera.sequence(ofFirstFrameStartingAtOrAfter: switchTime + settle))
    }

    func testStaleFramesArePassedOverWithEndOfFrameStamps() throws {
        let rig = EmulatedRig(timestampSource: .endOfFrame)
        let (session, _, switchTime) = try switchAfterFullQueue(rig)
        let frame = try session.grabber(settleMilliseconds: 20).grab(after: switchTime)
        XCTAssertEqual(frame.timestampSource, .endOfFrame)
        XCTAssertEqual(meanLevel(frame.image), lightOneLevel, accuracy: 0.01)
        // An end-of-frame stamp is one interval after the start; the bound also takes off the
        // 10 ms exposure, so the frame taken is one later than with start-of-exposure stamps.
        let firstFresh = rig.camera.sequence(ofFirstFrameStartingAtOrAfter: switchTime + 20_000_000)
        let boundFresh = rig.camera.sequence(ofFirstFrameStartingAtOrAfter: switchTime + 30_000_000)
        XCTAssertEqual(frame.sequence, boundFresh)
        XCTAssertGreaterThanOrEqual(frame.sequence, firstFresh)
        XCTAssertEqual(frame.exposureStartNanoseconds,
                       frame.timestampNanoseconds - 33_333_000 - 10_000_000)
    }

    func testErrorFlaggedAndShortBuffersAreDropped() throws {
        let rig = EmulatedRig()
        let (session, _, switchTime) = try switchAfterFullQueue(rig)
        let fresh = rig.camera.sequence(ofFirstFrameStartingAtOrAfter: switchTime + 20_000_000)
        rig.camera.faults = [fresh: .errorFlag, fresh + 1: .short(fraction: 0.5)]
        let frame = try session.grabber(settleMilliseconds: 20).grab(after: switchTime)
        XCTAssertEqual(frame.sequence, fresh + 2)
        XCTAssertEqual(frame.badBuffers, [
            SkippedBuffer(sequence: fresh, reason: "driver flagged the buffer as an error"),
            SkippedBuffer(sequence: fresh + 1, reason: "short frame: 4608 bytes, expected 9216"),
        ])
        XCTAssertEqual(meanLevel(frame.image), lightOneLevel, accuracy: 0.01)
    }

    func testCorruptAndTruncatedJPEGsAreDropped() throws {
        let rig = EmulatedRig()
        let (session, _, switchTime) = try switchAfterFullQueue(rig, format: .mjpeg)
        let fresh = rig.camera.sequence(ofFirstFrameStartingAtOrAfter: switchTime + 20_000_000)
        rig.camera.faults = [fresh: .corruptJPEG, fresh + 1: .short(fraction: 0.6)]
        let frame = try session.grabber(settleMilliseconds: 20).grab(after: switchTime)
        XCTAssertEqual(frame.sequence, fresh + 2)
        XCTAssertEqual(frame.badBuffers.map(\.sequence), [fresh, fresh + 1])
        for skipped in frame.badBuffers {
            XCTAssertTrue(skipped.reason.hasPrefix("corrupt JPEG: "), skipped.reason)
        }
        XCTAssertEqual(meanLevel(frame.image), lightOneLevel, accuracy: 1.0)
    }

    func testTooManyBadBuffersFail() throws {
        let rig = EmulatedRig()
        let (session, _, switchTime) = try switchAfterFullQueue(rig)
        let fresh = rig.camera.sequence(ofFirstFrameStartingAtOrAfter: switchTime + 20_000_000)
        for k in 0..<6 { rig.camera.faults[fresh + UInt32(k)] = .errorFlag }
        let grabber = session.grabber(settleMilliseconds: 20)   // tolerates 4
        XCTAssertThrowsError(try grabber.grab(after: switchTime)) { error in
            guard case .tooManyBadBuffers(let bad)? = error as? GrabFailure else {
                return XCTFail("expected tooManyBadBuffers, got \(error)")
            }
            XCTAssertEqual(bad.map(\.sequence), (0..<5).map { fresh + UInt32($0) })
        }
    }

    func testVanishedCameraIsReportedGone() throws {
        let rig = EmulatedRig()
        let (session, _, switchTime) = try switchAfterFullQueue(rig)
        rig.camera.unplug()
        XCTAssertThrowsError(try session.grabber(settleMilliseconds: 20).grab(after: switchTime)) {
            XCTAssertEqual($0 as? GrabFailure, .camera(.deviceGone(
                path: EmulatedRig.cameraPath, call: "VIDIOC_DQBUF", errno: .noDevice)))
        }
    }

    func testHungCameraTimesOut() throws {
        let rig = EmulatedRig()
        let session = try CameraSession(profile: rig.cameraProfile(), system: rig.kernel)
        rig.camera.isHung = true
        let start = rig.kernel.now
        XCTAssertThrowsError(try session.grabber(settleMilliseconds: 20).grab(after: start)) {
            XCTAssertEqual($0 as? GrabFailure, .camera(.timeout(path: EmulatedRig.cameraPath,
                                                                waitedMilliseconds: 500)))
        }
        let waited = Double(rig.kernel.now - start) / 1e6
        XCTAssertEqual(waited, 520, accuracy: 2, "settle 20 ms + timeout 500 ms")
    }
}

/// The validity rule on a real camera (no lights: the switch is "now").
final class RealCameraFreshFrameTests: XCTestCase {
    func testFreshFrameOnRealCamera() throws {
        let path = try RealDevices.camera()
        let system = LinuxSystemCalls()
        let probe = try VideoDevice(path: path, system: system)
        let current = try probe.currentFormat()
        probe.close()
        guard let current else { throw XCTSkip("\(path) is set to a format mvad does not decode") }
        var profile = CameraProfile(device: path, pixelFormat: current.0, width: current.width,
                                    height: current.height,
                                    frameIntervalMicroseconds: current.frameIntervalMicroseconds)
        profile.timeoutMilliseconds = 3000
        let session = try CameraSession(profile: profile, system: system)
        defer { session.close() }
        system.sleep(nanoseconds: 300_000_000)               // let the queue fill
        let now = system.monotonicNanoseconds()
        let frame = try session.grabber(settleMilliseconds: 50).grab(after: now)
        XCTAssertGreaterThanOrEqual(frame.exposureStartNanoseconds, now + 50_000_000)
        XCTAssertEqual(frame.image.width, current.width)
    }
}
