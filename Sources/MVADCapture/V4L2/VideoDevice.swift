// VideoDevice: one V4L2 capture device through the system-call layer: open and capabilities,
// format and frame-interval negotiation, mmap streaming (REQBUFS, QUERYBUF, QBUF, DQBUF,
// STREAMON, STREAMOFF) and poll.

import CLinuxUAPI

/// The format a camera agreed to.
public struct NegotiatedFormat: Equatable, Sendable {
    public var pixelFormat: PixelFormat
    public var width: Int
    public var height: Int
    public var bytesPerLine: Int
    public var sizeImage: Int
    public var frameIntervalMicroseconds: Int

    public init(pixelFormat: PixelFormat, width: Int, height: Int, bytesPerLine: Int,
                sizeImage: Int, frameIntervalMicroseconds: Int) {
        self.pixelFormat = pixelFormat
        self.width = width
        self.height = height
        self.bytesPerLine = bytesPerLine
        self.sizeImage = sizeImage
        self.frameIntervalMicroseconds = frameIntervalMicroseconds
    }
}

/// Where a buffer's timestamp was taken (V4L2_BUF_FLAG_TSTAMP_SRC_*).
public enum TimestampSource: String, ProfileChoice, Sendable {
    case startOfExposure = "start_of_exposure"
    case endOfFrame = "end_of_frame"
}

/// A buffer taken from the driver's outgoing queue. Its bytes are copied out, so the buffer
/// can be queued again at once.
public struct DequeuedBuffer: Sendable {
    public let index: Int
    public let sequence: UInt32
    public let timestampNanoseconds: UInt64
    public let timestampSource: TimestampSource
    public let hasErrorFlag: Bool
    public let bytes: [UInt8]
}

/// An open V4L2 video capture device, streaming through mmap'd buffers.
public final class VideoDevice {
    public let path: String
    let system: any SystemCalls
    private var descriptor: Int32
    var currentDescriptor: Int32 { descriptor }
    private var buffers: MappedBuffers?
    public private(set) var format: NegotiatedFormat?
    public private(set) var isStreaming = false

    /// Opens the node non-blocking and checks it can capture video by streaming.
    public init(path: String, system: any SystemCalls) throws(CameraError) {
        self.path = path
        self.system = system
        do {
            descriptor = try system.open(path, flags: [.nonBlocking, .closeOnExec])
        } catch {
            throw CameraError.openFailed(path: path, errno: error)
        }
        var capability = v4l2_capability()
        do {
            try ioctl("VIDIOC_QUERYCAP", mvad_request_vidioc_querycap(), &capability)
        } catch {
            system.close(descriptor)
            throw error
        }
        let caps = capability.capabilities & UInt32(V4L2_CAP_DEVICE_CAPS) != 0
            ? capability.device_caps : capability.capabilities
        let needed = UInt32(V4L2_CAP_VIDEO_CAPTURE) | UInt32(V4L2_CAP_STREAMING)
        guard caps & needed == needed else {
            system.close(descriptor)
            throw CameraError.notACaptureDevice(path: path, capabilities: caps)
        }
    }

    deinit {
        close()
    }

    /// Stops streaming, unmaps the buffers and closes the node. Safe to call twice.
    public func close() {
        guard descriptor >= 0 else { return }
        if isStreaming { stopStreaming() }
        buffers = nil
        system.close(descriptor)
        descriptor = -1
    }

    /// An ioctl on the device, with failures classified (gone vs. other).
    func ioctl<T>(_ name: String, _ request: UInt, _ value: inout T) throws(CameraError) {
        do {
            try system.ioctl(descriptor, request, &value)
        } catch {
            throw CameraError.call(name, path: path, error)
        }
    }

    /// Sets the pixel format, size and frame interval; the driver must take them unchanged.
    public func configure(pixelFormat: PixelFormat, width: Int, height: Int,
                          frameIntervalMicroseconds: Int) throws(CameraError) -> NegotiatedFormat {
        precondition(!isStreaming, "configure a camera before streaming")
        var request = v4l2_format()
        request.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        request.fmt.pix.pixelformat = pixelFormat.fourCC
        request.fmt.pix.width = UInt32(width)
        request.fmt.pix.height = UInt32(height)
        request.fmt.pix.field = V4L2_FIELD_NONE.rawValue
        try ioctl("VIDIOC_S_FMT", mvad_request_vidioc_s_fmt(), &request)
        let got = request.fmt.pix
        guard got.pixelformat == pixelFormat.fourCC && Int(got.width) == width
                && Int(got.height) == height else {
            throw CameraError.formatNotAccepted(
                path: path, requested: "\(pixelFormat.rawValue) \(width)x\(height)",
                got: "\(PixelFormat.name(ofFourCC: got.pixelformat)) \(got.width)x\(got.height)")
        }
        let interval = try setFrameInterval(microseconds: frameIntervalMicroseconds)
        let rowBytes = pixelFormat == .yuyv ? (width + 1) / 2 * 4
            : width * (pixelFormat.bytesPerPixel ?? 0)
        let bytesPerLine = max(Int(got.bytesperline), rowBytes)
        let negotiated = NegotiatedFormat(pixelFormat: pixelFormat, width: width, height: height,
                                          bytesPerLine: bytesPerLine,
                                          sizeImage: Int(got.sizeimage),
                                          frameIntervalMicroseconds: interval)
        format = negotiated
        return negotiated
    }

    /// The format and frame interval the device is set to now (G_FMT, G_PARM); nil if its
    /// pixel format is not one the capture layer decodes.
    public func currentFormat() throws(CameraError) -> (PixelFormat, width: Int, height: Int,
                                                        frameIntervalMicroseconds: Int)? {
        var request = v4l2_format()
        request.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        try ioctl("VIDIOC_G_FMT", mvad_request_vidioc_g_fmt(), &request)
        var parameters = v4l2_streamparm()
        parameters.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        try ioctl("VIDIOC_G_PARM", mvad_request_vidioc_g_parm(), &parameters)
        let fraction = parameters.parm.capture.timeperframe
        guard let pixelFormat = PixelFormat(fourCC: request.fmt.pix.pixelformat),
              fraction.denominator > 0 else { return nil }
        let interval = Int((UInt64(fraction.numerator) * 1_000_000 + UInt64(fraction.denominator) / 2)
                           / UInt64(fraction.denominator))
        return (pixelFormat, Int(request.fmt.pix.width), Int(request.fmt.pix.height), interval)
    }

    /// S_PARM with timeperframe = interval / 1,000,000 s; returns the driver's interval, which
    /// must equal the request (to the microsecond).
    private func setFrameInterval(microseconds: Int) throws(CameraError) -> Int {
        var parameters = v4l2_streamparm()
        parameters.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        parameters.parm.capture.timeperframe = v4l2_fract(numerator: UInt32(microseconds),
                                                          denominator: 1_000_000)
        try ioctl("VIDIOC_S_PARM", mvad_request_vidioc_s_parm(), &parameters)
        let fraction = parameters.parm.capture.timeperframe
        guard fraction.denominator > 0 else {
            throw CameraError.frameIntervalNotAccepted(path: path,
                                                       requestedMicroseconds: microseconds,
                                                       gotMicroseconds: 0)
        }
        let got = Int((UInt64(fraction.numerator) * 1_000_000 + UInt64(fraction.denominator) / 2)
                      / UInt64(fraction.denominator))
        guard got == microseconds else {
            throw CameraError.frameIntervalNotAccepted(path: path,
                                                       requestedMicroseconds: microseconds,
                                                       gotMicroseconds: got)
        }
        return got
    }

    /// Allocates and maps `bufferCount` buffers, queues them all and starts streaming.
    public func startStreaming(bufferCount: Int) throws(CameraError) {
        precondition(format != nil, "configure a camera before streaming")
        precondition(!isStreaming, "the camera is already streaming")
        var request = v4l2_requestbuffers()
        request.count = UInt32(bufferCount)
        request.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        request.memory = V4L2_MEMORY_MMAP.rawValue
        try ioctl("VIDIOC_REQBUFS", mvad_request_vidioc_reqbufs(), &request)
        guard request.count >= 2 else {
            throw CameraError.tooFewBuffers(path: path, got: Int(request.count), needed: 2)
        }
        var mapped = MappedBuffers(system: system)
        for index in 0..<Int(request.count) {
            var buffer = emptyBuffer(index: index)
            try ioctl("VIDIOC_QUERYBUF", mvad_request_vidioc_querybuf(), &buffer)
            do {
                try mapped.map(descriptor: descriptor, length: Int(buffer.length),
                               offset: Int(buffer.m.offset))
            } catch {
                throw CameraError.call("mmap", path: path, error)
            }
        }
        buffers = consume mapped
        for index in 0..<Int(request.count) { try queue(index) }
        var type = Int32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        try ioctl("VIDIOC_STREAMON", mvad_request_vidioc_streamon(), &type)
        isStreaming = true
    }

    /// Stops streaming (the driver drops every queued buffer), unmaps and frees the buffers.
    /// Failures are ignored: the device may already be gone.
    public func stopStreaming() {
        guard isStreaming else { return }
        var type = Int32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        try? ioctl("VIDIOC_STREAMOFF", mvad_request_vidioc_streamoff(), &type)
        isStreaming = false
        buffers = nil
        var request = v4l2_requestbuffers()
        request.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        request.memory = V4L2_MEMORY_MMAP.rawValue
        try? ioctl("VIDIOC_REQBUFS", mvad_request_vidioc_reqbufs(), &request)
    }

    private func emptyBuffer(index: Int) -> v4l2_buffer {
        var buffer = v4l2_buffer()
        buffer.index = UInt32(index)
        buffer.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        buffer.memory = V4L2_MEMORY_MMAP.rawValue
        return buffer
    }

    /// Gives buffer `index` back to the driver.
    public func queue(_ index: Int) throws(CameraError) {
        var buffer = emptyBuffer(index: index)
        try ioctl("VIDIOC_QBUF", mvad_request_vidioc_qbuf(), &buffer)
    }

    /// The next filled buffer, or nil if none is ready (EAGAIN). Its bytes are copied; the
    /// caller queues it again with `queue(index)`.
    public func dequeue() throws(CameraError) -> DequeuedBuffer? {
        precondition(isStreaming, "dequeue needs a streaming camera")
        var buffer = emptyBuffer(index: 0)
        do {
            try system.ioctl(descriptor, mvad_request_vidioc_dqbuf(), &buffer)
        } catch {
            if error == .again { return nil }
            throw CameraError.call("VIDIOC_DQBUF", path: path, error)
        }
        let flags = buffer.flags
        guard flags & UInt32(V4L2_BUF_FLAG_TIMESTAMP_MASK)
                == UInt32(V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC) else {
            try? queue(Int(buffer.index))
            throw CameraError.timestampsNotMonotonic(path: path, flags: flags)
        }
        let source: TimestampSource = flags & UInt32(V4L2_BUF_FLAG_TSTAMP_SRC_MASK)
            == UInt32(V4L2_BUF_FLAG_TSTAMP_SRC_SOE) ? .startOfExposure : .endOfFrame
        let index = Int(buffer.index)
        let count = Int(buffer.bytesused)
        let bytes: [UInt8]
        if let length = buffers?.length(index) {
            bytes = buffers?.bytes(index, count: min(count, length)) ?? []
        } else {
            bytes = []
        }
        let time = buffer.timestamp
        return DequeuedBuffer(index: index, sequence: buffer.sequence,
                              timestampNanoseconds: UInt64(time.tv_sec) * 1_000_000_000
                                + UInt64(time.tv_usec) * 1_000,
                              timestampSource: source,
                              hasErrorFlag: flags & UInt32(V4L2_BUF_FLAG_ERROR) != 0,
                              bytes: bytes)
    }

    /// Waits up to `milliseconds` for a filled buffer; false on timeout.
    public func waitForFrame(milliseconds: Int) throws(CameraError) -> Bool {
        let events: PollEvents
        do {
            events = try system.poll(descriptor, events: [.input],
                                     timeoutMilliseconds: Int32(clamping: milliseconds))
        } catch {
            throw CameraError.call("poll", path: path, error)
        }
        if events.contains(.error) || events.contains(.hangUp) || events.contains(.invalid) {
            // A streaming device signals an error on poll when it is gone; DQBUF tells which.
            if let buffer = try dequeue() { try queue(buffer.index) }
            throw CameraError.deviceGone(path: path, call: "poll", errno: .io)
        }
        return events.contains(.input)
    }
}
