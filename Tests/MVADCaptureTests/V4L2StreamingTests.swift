// V4L2 streaming through the system-call layer on the emulated camera (and a real one when
// MVAD_V4L2_DEVICE names it): format negotiation, decoding of each pixel format, buffer
// queues with sequence numbers and timestamps, EAGAIN, and unmapping on close.

import MVADCapture
import MVADCaptureEmulation
import MVADInspect
import XCTest

final class V4L2StreamingTests: XCTestCase {
    /// Streams one frame in `format` of the rig's scene.
    private func grabOne(_ rig: EmulatedRig, _ format: PixelFormat) throws -> FreshFrame {
        let session = try CameraSession(profile: rig.cameraProfile(format), system: rig.kernel)
        defer { session.close() }
        return try session.grabber(settleMilliseconds: 0).grab(after: rig.kernel.now)
    }

    func testRGB24FramesArriveUnchanged() throws {
        let rig = EmulatedRig()
        rig.camera.scene = { _, w, h in gradientImage(width: w, height: h) }
        let frame = try grabOne(rig, .rgb24)
        XCTAssertEqual(frame.image, gradientImage(width: 64, height: 48))
    }

    func testGreyFramesAreBT601Luma() throws {
        let rig = EmulatedRig()
        rig.camera.scene = { _, w, h in gradientImage(width: w, height: h) }
        let frame = try grabOne(rig, .grey)
        XCTAssertEqual(frame.image.channels, 1)
        // (10, 8): RGB (40, 40, 128); Y = ((66*40 + 129*40 + 25*128 + 128) >> 8) + 16 = 59.
        XCTAssertEqual(frame.image.sample(x: 10, y: 8, channel: 0), 59)
        // (0, 0): RGB (0, 0, 128); Y = ((3200 + 128) >> 8) + 16 = 29.
        XCTAssertEqual(frame.image.sample(x: 0, y: 0, channel: 0), 29)
    }

    func testYUYVDecodesWithBT601LimitedRange() throws {
        let rig = EmulatedRig()
        rig.camera.scene = { _, w, h in
            var pixels = [UInt8](repeating: 0, count: w * h * 3)
            for p in 0..<(w * h) {
                (pixels[p * 3], pixels[p * 3 + 1], pixels[p * 3 + 2]) = (200, 100, 50)
            }
            return Image(width: w, height: h, channels: 3, samples: .uint8(pixels))
        }
        let frame = try grabOne(rig, .yuyv)
        // RGB (200, 100, 50) -> Y 123, U 91, V 175 -> RGB (200, 101, 50), worked by hand with
        // the BT.601 8-bit fixed-point formulas.
        XCTAssertEqual(frame.image.sample(x: 7, y: 5, channel: 0), 200)
        XCTAssertEqual(frame.image.sample(x: 7, y: 5, channel: 1), 101)
        XCTAssertEqual(frame.image.sample(x: 7, y: 5, channel: 2), 50)
    }

    func testMJPEGFramesDecodeFromBytesUsed() throws {
        let rig = EmulatedRig()
        rig.camera.scene = { _, w, h in gradientImage(width: w, height: h) }
        let frame = try grabOne(rig, .mjpeg)
        XCTAssertLessThan(frame.bytesUsed, 64 * 48 * 3, "a JPEG, not raw pixels")
        XCTAssertEqual(meanChannel(frame.image, 0), meanChannel(gradientImage(width: 64, height: 48), 0),
                       accuracy: 1.5)
        XCTAssertEqual(meanChannel(frame.image, 1), meanChannel(gradientImage(width: 64, height: 48), 1),
                       accuracy: 1.5)
    }

    func testSizeTheDriverChangesIsRefused() throws {
        let rig = EmulatedRig()
        let device = try VideoDevice(path: EmulatedRig.cameraPath, system: rig.kernel)
        XCTAssertThrowsError(try device.configure(pixelFormat: .grey, width: 640, height: 480,
                                                  frameIntervalMicroseconds: 33_333)) { error in
            XCTAssertEqual(error as? CameraError, .formatNotAccepted(
                path: EmulatedRig.cameraPath, requested: "GREY 640x480", got: "GREY 64x48"))
        }
    }

    func testFormatTheCameraLacksIsRefused() throws {
        let kernel = EmulatedKernel()
        kernel.install(EmulatedCamera(formats: [.yuyv]) { _, w, h in gradientImage(width: w, height: h) },
                       at: "/dev/video3")
        let device = try VideoDevice(path: "/dev/video3", system: kernel)
        XCTAssertThrowsError(try device.configure(pixelFormat: .mjpeg, width: 64, height: 48,
                                                  frameIntervalMicroseconds: 33_333)) { error in
            XCTAssertEqual(error as? CameraError, .formatNotAccepted(
                path: "/dev/video3", requested: "MJPEG 64x48", got: "YUYV 64x48"))
        }
    }

    func testFrameIntervalTheDriverChangesIsRefused() throws {
        let rig = EmulatedRig()
        let device = try VideoDevice(path: EmulatedRig.cameraPath, system: rig.kernel)
        XCTAssertThrowsError(try device.configure(pixelFormat: .grey, width: 64, height: 48,
                                                  frameIntervalMicroseconds: 40_000)) { error in
            XCTAssertEqual(error as? CameraError, .frameIntervalNotAccepted(
                path: EmulatedRig.cameraPath, requestedMicroseconds: 40_000,
                gotMicroseconds: 33_333))
        }
    }

    func testQueueGivesSequenceNumbersTimestampsAndEAGAIN() throws {
        let rig = EmulatedRig()
        try checkStreamingContract(system: rig.kernel, path: EmulatedRig.cameraPath,
                                   format: (.grey, 64, 48, 33_333))
    }

    func testQueueContractOnRealCamera() throws {
        let path = try RealDevices.camera()
        let system = LinuxSystemCalls()
        // The camera's own current format, which it certainly offers.
        let probe = try VideoDevice(path: path, system: system)
        let current = try probe.currentFormat()
        probe.close()
        guard let current else { throw XCTSkip("\(path) is set to a pixel format mvad does not decode") }
        try checkStreamingContract(system: system, path: path,
                                   format: (current.0, current.width, current.height,
                                            current.frameIntervalMicroseconds))
    }

    /// EAGAIN before the first frame, consecutive sequence numbers one interval apart while
    /// buffers are queued, and skipped sequence numbers once the application holds them all.
    private func checkStreamingContract(system: any SystemCalls, path: String,
                                        format: (PixelFormat, Int, Int, Int)) throws {
        let device = try VideoDevice(path: path, system: system)
        defer { device.close() }
        let intervalMicroseconds = format.3
        _ = try device.configure(pixelFormat: format.0, width: format.1, height: format.2,
                                 frameIntervalMicroseconds: intervalMicroseconds)
        try device.startStreaming(bufferCount: 4)
        XCTAssertNil(try device.dequeue(), "no frame can be complete right after STREAMON")

        var held: [DequeuedBuffer] = []
        while held.count < 3 {
            XCTAssertTrue(try device.waitForFrame(milliseconds: 1000))
            if let buffer = try device.dequeue() { held.append(buffer) }
        }
        for (earlier, later) in zip(held, held.dropFirst()) {
            XCTAssertEqual(later.sequence, earlier.sequence + 1)
            let gap = Double(later.timestampNanoseconds - earlier.timestampNanoseconds)
            XCTAssertEqual(gap, Double(intervalMicroseconds) * 1000, accuracy: 2_000_000)
        }
        // One buffer is left with the driver: it fills, then frames are lost until we give
        // buffers back, and the sequence numbers show the gap.
        system.sleep(nanoseconds: UInt64(intervalMicroseconds) * 1000 * 6)
        for buffer in held { try device.queue(buffer.index) }
        var next: [DequeuedBuffer] = []
        while next.count < 2 {
            XCTAssertTrue(try device.waitForFrame(milliseconds: 1000))
            if let buffer = try device.dequeue() {
                next.append(buffer)
                try device.queue(buffer.index)
            }
        }
        let last = try XCTUnwrap(held.last).sequence
        XCTAssertEqual(next[0].sequence, last + 1, "the buffer left queued got the next frame")
        XCTAssertGreaterThan(next[1].sequence, next[0].sequence + 1, "frames were lost meanwhile")
    }

    func testCloseUnmapsEveryBufferAndClosesTheNode() throws {
        let rig = EmulatedRig()
        let session = try CameraSession(profile: rig.cameraProfile(), system: rig.kernel)
        XCTAssertEqual(rig.kernel.callCounts["mmap"], 4)
        session.close()
        XCTAssertEqual(rig.kernel.callCounts["munmap"], 4)
        XCTAssertEqual(rig.kernel.openDescriptorCount, 0)
    }

    func testNodeThatIsNotACameraIsRefused() throws {
        let rig = EmulatedRig()
        XCTAssertThrowsError(try VideoDevice(path: EmulatedRig.chipPath, system: rig.kernel)) {
            XCTAssertEqual($0 as? CameraError, .callFailed(path: EmulatedRig.chipPath,
                                                           call: "VIDIOC_QUERYCAP", errno: .notTTY))
        }
        XCTAssertEqual(rig.kernel.openDescriptorCount, 0)
        XCTAssertThrowsError(try VideoDevice(path: "/dev/video9", system: rig.kernel)) {
            XCTAssertEqual($0 as? CameraError, .openFailed(path: "/dev/video9", errno: .noEntry))
        }
    }
}
