// FreshFrameGrabber: the frame-validity rule. After a light switch, drain the camera's queue and
// take the first buffer exposed entirely after the switch plus the settle time; buffers flagged
// as errors, short frames and corrupt JPEGs are dropped and counted.

import MVADInspect

/// A buffer passed over while waiting for a fresh frame, and why.
public struct SkippedBuffer: Codable, Equatable, Sendable {
    public let sequence: UInt32
    public let reason: String

    public init(sequence: UInt32, reason: String) {
        self.sequence = sequence
        self.reason = reason
    }
}

/// A frame that satisfied the validity rule.
public struct FreshFrame: Sendable {
    public let image: Image
    public let sequence: UInt32
    public let timestampNanoseconds: UInt64
    public let timestampSource: TimestampSource
    /// The earliest time the exposure can have started, from the timestamp and its source.
    public let exposureStartNanoseconds: UInt64
    public let bytesUsed: Int
    /// Buffers exposed (possibly partly) before the switch plus settle time.
    public let staleBuffers: [UInt32]
    /// Buffers dropped as unusable (error flag, short, corrupt JPEG, wrong size).
    public let badBuffers: [SkippedBuffer]
}

/// Why no fresh frame could be taken.
public enum GrabFailure: Error, Equatable, Sendable {
    /// The camera failed (gone, timed out, or a call failed).
    case camera(CameraError)
    /// More unusable buffers than allowed came in a row.
    case tooManyBadBuffers([SkippedBuffer])
}

/// Applies the frame-validity rule to one streaming camera.
public struct FreshFrameGrabber {
    public let camera: VideoDevice
    public let decoder: FrameDecoder
    /// Time after the switch before a frame's exposure may start (light and sensor settle).
    public let settleNanoseconds: UInt64
    /// The exposure time in force (for end-of-frame timestamps).
    public let exposureNanoseconds: UInt64
    /// How long to wait for a fresh frame after the settle time.
    public let timeoutMilliseconds: Int
    /// Unusable buffers tolerated before giving up.
    public let maximumBadBuffers: Int

    public init(camera: VideoDevice, format: NegotiatedFormat, settleNanoseconds: UInt64,
                exposureNanoseconds: UInt64, timeoutMilliseconds: Int, maximumBadBuffers: Int) {
        self.camera = camera
        self.decoder = FrameDecoder(format: format)
        self.settleNanoseconds = settleNanoseconds
        self.exposureNanoseconds = exposureNanoseconds
        self.timeoutMilliseconds = timeoutMilliseconds
        self.maximumBadBuffers = maximumBadBuffers
    }

    /// The earliest possible start of the exposure of a buffer. A start-of-exposure stamp is
    /// exact. An end-of-frame stamp follows the exposure and the readout, and readout takes at
    /// most one frame interval, so the exposure began no earlier than stamp - interval -
    /// exposure: that bound is used, so a frame is never taken too early.
    public func exposureStart(_ buffer: DequeuedBuffer) -> UInt64 {
        switch buffer.timestampSource {
        case .startOfExposure:
            return buffer.timestampNanoseconds
        case .endOfFrame:
            let interval = UInt64(decoder.format.frameIntervalMicroseconds) * 1_000
            let back = interval + exposureNanoseconds
            return buffer.timestampNanoseconds > back ? buffer.timestampNanoseconds - back : 0
        }
    }

    /// The first usable frame exposed after `switchNanoseconds + settle`. Every buffer taken is
    /// queued again at once.
    public func grab(after switchNanoseconds: UInt64) throws(GrabFailure) -> FreshFrame {
        let earliest = switchNanoseconds + settleNanoseconds
        let system = camera.system
        let deadline = max(earliest, system.monotonicNanoseconds())
            + UInt64(timeoutMilliseconds) * 1_000_000
        var stale: [UInt32] = []
        var bad: [SkippedBuffer] = []
        do {
            while true {
                guard let buffer = try camera.dequeue() else {
                    let now = system.monotonicNanoseconds()
                    guard now < deadline else {
                        throw CameraError.timeout(path: camera.path,
                                                  waitedMilliseconds: timeoutMilliseconds)
                    }
                    let remaining = Int((deadline - now + 999_999) / 1_000_000)
                    _ = try camera.waitForFrame(milliseconds: remaining)
                    continue
                }
                try camera.queue(buffer.index)
                guard exposureStart(buffer) >= earliest else {
                    stale.append(buffer.sequence)
                    continue
                }
                switch check(buffer) {
                case .success(let image):
                    return FreshFrame(image: image, sequence: buffer.sequence,
                                      timestampNanoseconds: buffer.timestampNanoseconds,
                                      timestampSource: buffer.timestampSource,
                                      exposureStartNanoseconds: exposureStart(buffer),
                                      bytesUsed: buffer.bytes.count, staleBuffers: stale,
                                      badBuffers: bad)
                case .failure(let problem):
                    bad.append(SkippedBuffer(sequence: buffer.sequence, reason: problem.description))
                    if bad.count > maximumBadBuffers { throw GrabFailure.tooManyBadBuffers(bad) }
                }
            }
        } catch let error as CameraError {
            throw .camera(error)
        } catch let error as GrabFailure {
            throw error
        } catch {
            preconditionFailure("unexpected error \(error)")
        }
    }

    /// The decoded image, or why the buffer is unusable.
    private func check(_ buffer: DequeuedBuffer) -> Result<Image, FrameProblem> {
        if buffer.hasErrorFlag { return .failure(.errorFlag) }
        return decoder.decode(buffer.bytes)
    }
}
