// CameraError: what can go wrong opening, configuring and streaming a V4L2 camera, as sentences
// that say which device, which call or control, what was found and what was expected.

/// Errors of the V4L2 layer. `path` is the device node (e.g. /dev/video0).
public enum CameraError: Error, Equatable, Sendable {
    /// open() failed (no such node, no permission).
    case openFailed(path: String, errno: Errno)
    /// The node is not a streaming video capture device; `capabilities` are its device caps.
    case notACaptureDevice(path: String, capabilities: UInt32)
    /// The device vanished or broke (ENODEV, EIO): unplugged, reset, or its driver failed.
    case deviceGone(path: String, call: String, errno: Errno)
    /// No frame came within the time allowed.
    case timeout(path: String, waitedMilliseconds: Int)
    /// Another ioctl failed; `call` is the request name (VIDIOC_S_FMT, ...).
    case callFailed(path: String, call: String, errno: Errno)
    /// The driver changed the requested format (pixel format or size).
    case formatNotAccepted(path: String, requested: String, got: String)
    /// The driver changed the requested frame interval.
    case frameIntervalNotAccepted(path: String, requestedMicroseconds: Int, gotMicroseconds: Int)
    /// The camera has no such control, or it is disabled.
    case controlMissing(path: String, control: String)
    /// The value is outside the control's range or not on its step.
    case controlValueInvalid(path: String, control: String, value: Int32, minimum: Int32,
                             maximum: Int32, step: Int32)
    /// The value read back after writing differs from the value written.
    case controlNotApplied(path: String, control: String, wrote: Int32, readBack: Int32)
    /// Buffers carry timestamps that cannot be compared with CLOCK_MONOTONIC; `flags` are the
    /// buffer's timestamp flags.
    case timestampsNotMonotonic(path: String, flags: UInt32)
    /// Fewer buffers than needed could be allocated.
    case tooFewBuffers(path: String, got: Int, needed: Int)
}

extension CameraError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .openFailed(let path, let errno):
            return "Cannot open camera '\(path)': \(errno). Check the device node exists and "
                + "is readable and writable (video group)."
        case .notACaptureDevice(let path, let caps):
            return "'\(path)' is not a streaming video capture device: its capabilities are 0x"
                + String(caps, radix: 16) + "; expected VIDEO_CAPTURE and STREAMING."
        case .deviceGone(let path, let call, let errno):
            return "Camera '\(path)' is gone: \(call) failed with \(errno) (unplugged, reset or "
                + "its driver failed)."
        case .timeout(let path, let waited):
            return "Camera '\(path)' delivered no usable frame within \(waited) ms."
        case .callFailed(let path, let call, let errno):
            return "Camera '\(path)': \(call) failed with \(errno)."
        case .formatNotAccepted(let path, let requested, let got):
            return "Camera '\(path)' does not accept the format \(requested): the driver "
                + "offered \(got). Choose a format and size the camera lists (v4l2-ctl "
                + "--list-formats-ext)."
        case .frameIntervalNotAccepted(let path, let requested, let got):
            return "Camera '\(path)' does not accept a frame interval of \(requested) us: the "
                + "driver set \(got) us."
        case .controlMissing(let path, let control):
            return "Camera '\(path)' has no usable control '\(control)' (absent or disabled)."
        case .controlValueInvalid(let path, let control, let value, let min, let max, let step):
            return "Camera '\(path)': \(value) is not a valid value of '\(control)'; expected "
                + "\(min)...\(max) in steps of \(step)."
        case .controlNotApplied(let path, let control, let wrote, let readBack):
            return "Camera '\(path)': '\(control)' was set to \(wrote) but reads back "
                + "\(readBack); the camera did not take the value."
        case .timestampsNotMonotonic(let path, let flags):
            return "Camera '\(path)' stamps buffers with a clock other than CLOCK_MONOTONIC "
                + "(flags 0x" + String(flags, radix: 16) + "); a frame's exposure cannot be "
                + "compared with the light switch."
        case .tooFewBuffers(let path, let got, let needed):
            return "Camera '\(path)' gave \(got) buffers; at least \(needed) are needed."
        }
    }
}

extension CameraError {
    /// An ioctl failure, classified: ENODEV/EIO/ENXIO mean the device is gone.
    static func call(_ name: String, path: String, _ errno: Errno) -> CameraError {
        errno.meansDeviceGone ? .deviceGone(path: path, call: name, errno: errno)
            : .callFailed(path: path, call: name, errno: errno)
    }

    /// True when the camera should be closed and reopened.
    public var meansDeviceGone: Bool {
        switch self {
        case .deviceGone, .timeout, .openFailed: return true
        default: return false
        }
    }
}
