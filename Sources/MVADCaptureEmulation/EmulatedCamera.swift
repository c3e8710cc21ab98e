// EmulatedCamera: a V4L2 capture device as the uAPI documents it: format and frame-interval
// negotiation, mmap buffers with REQBUFS/QUERYBUF/QBUF/DQBUF/STREAMON/STREAMOFF, sequence
// numbers, CLOCK_MONOTONIC timestamps (start-of-exposure or end-of-frame), EAGAIN, poll,
// injected faults, and a camera that can vanish (ENODEV).

import CLinuxUAPI
import MVADCapture
import MVADInspect

/// An emulated UVC-like camera. Frame k of a stream starts exposing at STREAMON + k * interval
/// and is complete one interval later; its pixels come from `scene` at its exposure start.
public final class EmulatedCamera: EmulatedNode {
    /// The picture at a time: called with the exposure start, width and height; returns an
    /// 8-bit RGB image of that size.
    public var scene: (UInt64, Int, Int) -> Image
    public let supportedFormats: [PixelFormat]
    /// Sizes offered; S_FMT picks the nearest, as drivers do.
    public let supportedSizes: [(width: Int, height: Int)]
    /// Frame intervals offered in microseconds; S_PARM picks the nearest.
    public let supportedIntervals: [Int]
    public var timestampSource: TimestampSource
    /// Extra delay between the end of a frame and its buffer being ready.
    public var deliveryLatency: UInt64 = 0
    /// Some cameras reset their controls to the defaults when streaming starts.
    public var resetsControlsOnStreamOn = false
    /// Faults to apply, by frame sequence number.
    public var faults: [UInt32: FrameFault] = [:]
    /// When true the camera produces no frames (a hung device: poll times out).
    public var isHung = false
    /// Maximum buffers REQBUFS grants.
    public var maximumBuffers = 8
    public private(set) var isGone = false
    public private(set) var streamOnCount = 0

    var controls: [UInt32: EmulatedControl] = EmulatedCamera.uvcControls()
    var openHandles = Set<Int>()
    private var nextHandle = 1
    private var owner: Int?                 // handle that allocated the buffers
    private var pixelFormat: PixelFormat
    private var width: Int
    private var height: Int
    private var intervalMicroseconds: Int
    private var buffers: [EmulatedBuffer] = []
    private var incoming: [Int] = []         // queued by the application, in order
    private var outgoing: [Int] = []         // filled, waiting for DQBUF
    private var streaming = false
    private var streamStart: UInt64 = 0
    private var nextFrame = 0                // frame number of the next frame to complete
    private var now: UInt64 = 0

    public init(formats: [PixelFormat] = PixelFormat.allCases,
                sizes: [(width: Int, height: Int)] = [(64, 48), (32, 24)],
                intervals: [Int] = [33_333, 50_000, 100_000],
                timestampSource: TimestampSource = .startOfExposure,
                scene: @escaping (UInt64, Int, Int) -> Image) {
        precondition(!formats.isEmpty && !sizes.isEmpty && !intervals.isEmpty)
        supportedFormats = formats
        supportedSizes = sizes
        supportedIntervals = intervals
        self.timestampSource = timestampSource
        self.scene = scene
        pixelFormat = formats[0]
        width = sizes[0].width
        height = sizes[0].height
        intervalMicroseconds = intervals[0]
    }

    /// The camera is unplugged: every call on open files fails with ENODEV from now on.
    public func unplug() {
        isGone = true
    }

    // MARK: EmulatedNode

    public func open(kernel: EmulatedKernel) throws(Errno) -> Int {
        if isGone { throw Errno.noDevice }
        now = max(now, kernel.now)
        let handle = nextHandle
        nextHandle += 1
        openHandles.insert(handle)
        return handle
    }

    public func close(handle: Int) {
        openHandles.remove(handle)
        if owner == handle {
            streaming = false
            releaseBuffers()
        }
    }

    public func mmap(handle: Int, length: Int, offset: Int) throws(Errno)
        -> UnsafeMutableRawPointer {
        if isGone { throw Errno.noDevice }
        guard let index = buffers.firstIndex(where: { $0.offset == offset }),
              length <= buffers[index].memory.count,
              let base = buffers[index].memory.baseAddress else { throw Errno.invalid }
        buffers[index].mappings += 1
        return base
    }

    public func munmap(_ address: UnsafeMutableRawPointer, length: Int) {
        for index in buffers.indices where buffers[index].memory.baseAddress == address {
            buffers[index].mappings -= 1
        }
        orphans.removeAll { $0.release(address) }
    }

    public func poll(handle: Int) -> PollEvents {
        if isGone { return [.error, .hangUp] }
        if !streaming { return [.error] }
        return outgoing.isEmpty ? [] : [.input, .readNormal]
    }

    public func nextEventTime(after now: UInt64) -> UInt64? {
        guard streaming, !isGone, !isHung else { return nil }
        return completionTime(of: nextFrame)
    }

    public func read(handle: Int, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        throw isGone ? Errno.noDevice : Errno.invalid      // read() I/O is not offered
    }

    public func advance(to time: UInt64) {
        guard time > now else { return }
        now = time
        guard streaming, !isGone, !isHung else { return }
        while completionTime(of: nextFrame) <= time {
            produce(frame: nextFrame)
            nextFrame += 1
        }
    }

    /// The sequence number of the first frame of the current stream whose exposure starts at
    /// or after `time`.
    public func sequence(ofFirstFrameStartingAtOrAfter time: UInt64) -> UInt32 {
        precondition(streaming, "the camera is not streaming")
        guard time > streamStart else { return 0 }
        let interval = UInt64(intervalMicroseconds) * 1_000
        return UInt32((time - streamStart + interval - 1) / interval)
    }

    /// Exposure start of frame k.
    private func exposureStart(of frame: Int) -> UInt64 {
        streamStart + UInt64(frame) * UInt64(intervalMicroseconds) * 1_000
    }

    private func completionTime(of frame: Int) -> UInt64 {
        exposureStart(of: frame + 1) + deliveryLatency
    }

    /// Fills the oldest queued buffer with frame k; with no buffer queued the frame is lost
    /// (its sequence number is skipped, as drivers do).
    private func produce(frame: Int) {
        guard !incoming.isEmpty else { return }
        let index = incoming.removeFirst()
        let start = exposureStart(of: frame)
        let image = scene(start, width, height)
        var bytes = FrameEncoder.encode(image, as: pixelFormat, bytesPerLine: bytesPerLine)
        var flags = UInt32(V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC)
            | (timestampSource == .startOfExposure ? UInt32(V4L2_BUF_FLAG_TSTAMP_SRC_SOE)
                : UInt32(V4L2_BUF_FLAG_TSTAMP_SRC_EOF))
        if let fault = faults.removeValue(forKey: UInt32(frame)) {
            switch fault {
            case .errorFlag: flags |= UInt32(V4L2_BUF_FLAG_ERROR)
            case .short(let fraction): bytes = Array(bytes.prefix(Int(Double(bytes.count) * fraction)))
            case .corruptJPEG: bytes = FrameEncoder.corrupt(bytes)
            }
        }
        let memory = buffers[index].memory
        let count = min(bytes.count, memory.count)
        memory.copyBytes(from: bytes.prefix(count))
        buffers[index].bytesUsed = count
        buffers[index].flags = flags
        buffers[index].sequence = UInt32(frame)
        buffers[index].timestamp = timestampSource == .startOfExposure ? start
            : exposureStart(of: frame + 1)
        outgoing.append(index)
    }

    var bytesPerLine: Int { width * (pixelFormat.bytesPerPixel ?? 0) }

    var sizeImage: Int {
        pixelFormat == .mjpeg ? width * height * 3 + 4096 : bytesPerLine * height
    }

    // MARK: ioctls

    public func ioctl(handle: Int, request: UInt, argument: UnsafeMutableRawPointer,
                      kernel: EmulatedKernel) throws(Errno) {
        if isGone { throw Errno.noDevice }
        switch request {
        case mvad_request_vidioc_querycap(): queryCapabilities(argument)
        case mvad_request_vidioc_s_fmt(): try setFormat(argument)
        case mvad_request_vidioc_g_fmt(): getFormat(argument)
        case mvad_request_vidioc_s_parm(): try setParameters(argument)
        case mvad_request_vidioc_g_parm(): getParameters(argument)
        case mvad_request_vidioc_reqbufs(): try requestBuffers(argument, handle: handle)
        case mvad_request_vidioc_querybuf(): try queryBuffer(argument)
        case mvad_request_vidioc_qbuf(): try queueBuffer(argument, handle: handle)
        case mvad_request_vidioc_dqbuf(): try dequeueBuffer(argument, handle: handle)
        case mvad_request_vidioc_streamon(): try streamOn(argument, handle: handle, now: kernel.now)
        case mvad_request_vidioc_streamoff(): try streamOff(argument, handle: handle)
        case mvad_request_vidioc_queryctrl(): try queryControl(argument)
        case mvad_request_vidioc_g_ctrl(): try getControl(argument)
        case mvad_request_vidioc_s_ctrl(): try setControl(argument)
        default: throw Errno.notTTY
        }
    }

    private func queryCapabilities(_ argument: UnsafeMutableRawPointer) {
        var capability = v4l2_capability()
        withUnsafeMutableBytes(of: &capability.driver) { raw in
            raw.copyBytes(from: Array("uvcvideo".utf8))
        }
        let caps = UInt32(V4L2_CAP_VIDEO_CAPTURE) | UInt32(V4L2_CAP_STREAMING)
        capability.device_caps = caps
        capability.capabilities = caps | UInt32(V4L2_CAP_DEVICE_CAPS)
        argument.storeBytes(of: capability, as: v4l2_capability.self)
    }

    private func setFormat(_ argument: UnsafeMutableRawPointer) throws(Errno) {
        var format = argument.load(as: v4l2_format.self)
        guard format.type == V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue else { throw Errno.invalid }
        guard buffers.isEmpty else { throw Errno.busy }
        // Drivers never fail S_FMT for an unknown format or size: they substitute their own.
        pixelFormat = PixelFormat(fourCC: format.fmt.pix.pixelformat)
            .flatMap { supportedFormats.contains($0) ? $0 : nil } ?? supportedFormats[0]
        let wanted = (Int(format.fmt.pix.width), Int(format.fmt.pix.height))
        let nearest = supportedSizes.min {
            abs($0.width - wanted.0) + abs($0.height - wanted.1)
                < abs($1.width - wanted.0) + abs($1.height - wanted.1)
        } ?? supportedSizes[0]
        (width, height) = (nearest.width, nearest.height)
        format.fmt.pix = currentPixFormat()
        argument.storeBytes(of: format, as: v4l2_format.self)
    }

    private func getFormat(_ argument: UnsafeMutableRawPointer) {
        var format = argument.load(as: v4l2_format.self)
        format.fmt.pix = currentPixFormat()
        argument.storeBytes(of: format, as: v4l2_format.self)
    }

    private func currentPixFormat() -> v4l2_pix_format {
        var pix = v4l2_pix_format()
        pix.width = UInt32(width)
        pix.height = UInt32(height)
        pix.pixelformat = pixelFormat.fourCC
        pix.field = V4L2_FIELD_NONE.rawValue
        pix.bytesperline = UInt32(bytesPerLine)
        pix.sizeimage = UInt32(sizeImage)
        return pix
    }

    private func setParameters(_ argument: UnsafeMutableRawPointer) throws(Errno) {
        var parameters = argument.load(as: v4l2_streamparm.self)
        guard !streaming else { throw Errno.busy }
        let fraction = parameters.parm.capture.timeperframe
        if fraction.denominator > 0 && fraction.numerator > 0 {
            let wanted = Int(UInt64(fraction.numerator) * 1_000_000 / UInt64(fraction.denominator))
            intervalMicroseconds = supportedIntervals.min {
                abs($0 - wanted) < abs($1 - wanted)
            } ?? intervalMicroseconds
        }
        parameters.parm.capture.capability = UInt32(V4L2_CAP_TIMEPERFRAME)
        parameters.parm.capture.timeperframe = v4l2_fract(numerator: UInt32(intervalMicroseconds),
                                                          denominator: 1_000_000)
        argument.storeBytes(of: parameters, as: v4l2_streamparm.self)
    }

    private func getParameters(_ argument: UnsafeMutableRawPointer) {
        var parameters = argument.load(as: v4l2_streamparm.self)
        parameters.parm.capture.timeperframe = v4l2_fract(numerator: UInt32(intervalMicroseconds),
                                                          denominator: 1_000_000)
        argument.storeBytes(of: parameters, as: v4l2_streamparm.self)
    }

    // MARK: buffers

    private var orphans: [OrphanedMemory] = []

    private func releaseBuffers() {
        // Mapped memory stays valid until unmapped, as with a real driver.
        for buffer in buffers {
            if buffer.mappings > 0 {
                orphans.append(OrphanedMemory(memory: buffer.memory, mappings: buffer.mappings))
            } else {
                buffer.memory.deallocate()
            }
        }
        buffers = []
        incoming = []
        outgoing = []
        owner = nil
    }

    private func requestBuffers(_ argument: UnsafeMutableRawPointer, handle: Int) throws(Errno) {
        var request = argument.load(as: v4l2_requestbuffers.self)
        guard request.type == V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue,
              request.memory == V4L2_MEMORY_MMAP.rawValue else { throw Errno.invalid }
        if let owner, owner != handle { throw Errno.busy }
        guard !streaming else { throw Errno.busy }
        releaseBuffers()
        let count = min(Int(request.count), maximumBuffers)
        for index in 0..<count {
            let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: sizeImage, alignment: 64)
            memory.initializeMemory(as: UInt8.self, repeating: 0)
            buffers.append(EmulatedBuffer(memory: memory, offset: index * 0x10_0000))
        }
        owner = count > 0 ? handle : nil
        request.count = UInt32(count)
        argument.storeBytes(of: request, as: v4l2_requestbuffers.self)
    }

    private func fill(_ buffer: inout v4l2_buffer, from index: Int) {
        let state = buffers[index]
        buffer.bytesused = UInt32(state.bytesUsed)
        buffer.flags = state.flags
        buffer.sequence = state.sequence
        buffer.timestamp = timeval(tv_sec: Int(state.timestamp / 1_000_000_000),
                                   tv_usec: Int(state.timestamp % 1_000_000_000) / 1_000)
        buffer.m.offset = UInt32(state.offset)
        buffer.length = UInt32(state.memory.count)
        buffer.field = V4L2_FIELD_NONE.rawValue
    }

    private func queryBuffer(_ argument: UnsafeMutableRawPointer) throws(Errno) {
        var buffer = argument.load(as: v4l2_buffer.self)
        guard Int(buffer.index) < buffers.count else { throw Errno.invalid }
        fill(&buffer, from: Int(buffer.index))
        argument.storeBytes(of: buffer, as: v4l2_buffer.self)
    }

    private func queueBuffer(_ argument: UnsafeMutableRawPointer, handle: Int) throws(Errno) {
        let buffer = argument.load(as: v4l2_buffer.self)
        let index = Int(buffer.index)
        guard owner == handle else { throw Errno.busy }
        guard index < buffers.count, buffer.memory == V4L2_MEMORY_MMAP.rawValue,
              !incoming.contains(index), !outgoing.contains(index) else { throw Errno.invalid }
        buffers[index].flags = 0
        incoming.append(index)
    }

    private func dequeueBuffer(_ argument: UnsafeMutableRawPointer, handle: Int) throws(Errno) {
        guard owner == handle else { throw Errno.busy }
        guard streaming else { throw Errno.invalid }
        // The emulated descriptors are always non-blocking (the capture layer opens them so).
        guard !outgoing.isEmpty else { throw Errno.again }
        var buffer = argument.load(as: v4l2_buffer.self)
        let index = outgoing.removeFirst()
        buffer.index = UInt32(index)
        fill(&buffer, from: index)
        argument.storeBytes(of: buffer, as: v4l2_buffer.self)
    }

    private func streamOn(_ argument: UnsafeMutableRawPointer, handle: Int, now: UInt64)
        throws(Errno) {
        guard owner == handle, !buffers.isEmpty else { throw Errno.invalid }
        guard !streaming else { return }
        streaming = true
        streamStart = now
        nextFrame = 0
        streamOnCount += 1
        if resetsControlsOnStreamOn { controls = EmulatedCamera.uvcControls() }
    }

    private func streamOff(_ argument: UnsafeMutableRawPointer, handle: Int) throws(Errno) {
        guard owner == handle else { throw Errno.busy }
        streaming = false
        incoming = []
        outgoing = []
    }
}

/// One driver buffer of the emulated camera.
struct EmulatedBuffer {
    let memory: UnsafeMutableRawBufferPointer
    let offset: Int
    var mappings = 0
    var bytesUsed = 0
    var flags: UInt32 = 0
    var sequence: UInt32 = 0
    var timestamp: UInt64 = 0
}

/// Buffer memory freed by REQBUFS(0) or close while still mapped; freed at the last munmap.
final class OrphanedMemory {
    let memory: UnsafeMutableRawBufferPointer
    var mappings: Int

    init(memory: UnsafeMutableRawBufferPointer, mappings: Int) {
        self.memory = memory
        self.mappings = mappings
    }

    /// Drops one mapping of `address`; true when the memory was freed.
    func release(_ address: UnsafeMutableRawPointer) -> Bool {
        guard memory.baseAddress == address else { return false }
        mappings -= 1
        if mappings <= 0 { memory.deallocate() }
        return mappings <= 0
    }
}
