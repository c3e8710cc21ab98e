// VideoDevice+Controls: manual exposure, gain and white balance. Automatic modes go off first,
// values are checked against QUERYCTRL's range and step, written with S_CTRL and read back
// with G_CTRL; any difference is an error.

import CLinuxUAPI

/// One control and the value read back from the camera.
public struct ControlValue: Codable, Equatable, Sendable {
    public let name: String
    public let id: UInt32
    public let value: Int32
}

/// The manual settings to hold; nil leaves a control as the camera has it.
public struct ManualControls: Equatable, Sendable {
    public var exposureMicroseconds: Int?
    public var gain: Int?
    public var whiteBalanceKelvin: Int?

    public init(exposureMicroseconds: Int? = nil, gain: Int? = nil, whiteBalanceKelvin: Int? = nil) {
        self.exposureMicroseconds = exposureMicroseconds
        self.gain = gain
        self.whiteBalanceKelvin = whiteBalanceKelvin
    }
}

/// The V4L2 control ids used (linux/v4l2-controls.h), with the names used in messages.
public enum CameraControl {
    public static let exposureAuto = (id: UInt32(V4L2_CID_EXPOSURE_AUTO), name: "exposure_auto")
    public static let exposureAbsolute = (id: UInt32(V4L2_CID_EXPOSURE_ABSOLUTE),
                                          name: "exposure_time_absolute")
    public static let autoGain = (id: UInt32(V4L2_CID_AUTOGAIN), name: "gain_automatic")
    public static let gain = (id: UInt32(V4L2_CID_GAIN), name: "gain")
    public static let autoWhiteBalance = (id: UInt32(V4L2_CID_AUTO_WHITE_BALANCE),
                                          name: "white_balance_automatic")
    public static let whiteBalance = (id: UInt32(V4L2_CID_WHITE_BALANCE_TEMPERATURE),
                                      name: "white_balance_temperature")
    /// V4L2_EXPOSURE_MANUAL, the exposure_auto menu entry for manual exposure.
    public static let exposureManual = Int32(V4L2_EXPOSURE_MANUAL.rawValue)
}

// FIXME: only the classic VIDIOC_G_CTRL / S_CTRL / QUERYCTRL calls are used, since UVC cameras
// answer them; a sensor whose controls are reachable only through VIDIOC_S_EXT_CTRLS (64-bit or
// compound controls) is not supported yet.
extension VideoDevice {
    /// Switches the automatic modes of the given controls off, writes the values, and returns
    /// every control written with its read-back value. Call again after STREAMON: some cameras
    /// reset controls when streaming starts.
    public func applyManualControls(_ controls: ManualControls) throws(CameraError)
        -> [ControlValue] {
        var written: [ControlValue] = []
        if let exposure = controls.exposureMicroseconds {
            written.append(try set(CameraControl.exposureAuto, CameraControl.exposureManual))
            // exposure_time_absolute counts 100 us units.
            guard exposure % 100 == 0 else {
                let info = try query(CameraControl.exposureAbsolute)
                throw CameraError.controlValueInvalid(
                    path: path, control: CameraControl.exposureAbsolute.name + " (us)",
                    value: Int32(clamping: exposure), minimum: info.minimum * 100,
                    maximum: info.maximum * 100, step: info.step * 100)
            }
            written.append(try set(CameraControl.exposureAbsolute, Int32(clamping: exposure / 100)))
        }
        if let gain = controls.gain {
            if try exists(CameraControl.autoGain.id) {
                written.append(try set(CameraControl.autoGain, 0))
            }
            written.append(try set(CameraControl.gain, Int32(clamping: gain)))
        }
        if let kelvin = controls.whiteBalanceKelvin {
            written.append(try set(CameraControl.autoWhiteBalance, 0))
            written.append(try set(CameraControl.whiteBalance, Int32(clamping: kelvin)))
        }
        return written
    }

    /// The current value of a control (G_CTRL).
    public func value(of control: (id: UInt32, name: String)) throws(CameraError) -> Int32 {
        var request = v4l2_control(id: control.id, value: 0)
        do {
            try system.ioctl(currentDescriptor, mvad_request_vidioc_g_ctrl(), &request)
        } catch {
            if error == .invalid { throw CameraError.controlMissing(path: path, control: control.name) }
            throw CameraError.call("VIDIOC_G_CTRL \(control.name)", path: path, error)
        }
        return request.value
    }

    /// Checks `value` against the control's range and step, writes it and reads it back.
    private func set(_ control: (id: UInt32, name: String), _ value: Int32) throws(CameraError)
        -> ControlValue {
        let info = try query(control)
        let onStep = info.step <= 1 || (Int64(value) - Int64(info.minimum)) % Int64(info.step) == 0
        guard value >= info.minimum && value <= info.maximum && onStep else {
            throw CameraError.controlValueInvalid(path: path, control: control.name, value: value,
                                                  minimum: info.minimum, maximum: info.maximum,
                                                  step: info.step)
        }
        var request = v4l2_control(id: control.id, value: value)
        do {
            try system.ioctl(currentDescriptor, mvad_request_vidioc_s_ctrl(), &request)
        } catch {
            if error == .range || error == .invalid {
                throw CameraError.controlValueInvalid(path: path, control: control.name,
                                                      value: value, minimum: info.minimum,
                                                      maximum: info.maximum, step: info.step)
            }
            throw CameraError.call("VIDIOC_S_CTRL \(control.name)", path: path, error)
        }
        let readBack = try self.value(of: control)
        guard readBack == value else {
            throw CameraError.controlNotApplied(path: path, control: control.name, wrote: value,
                                                readBack: readBack)
        }
        return ControlValue(name: control.name, id: control.id, value: readBack)
    }

    /// QUERYCTRL: range and step; a missing or disabled control is an error.
    private func query(_ control: (id: UInt32, name: String)) throws(CameraError)
        -> (minimum: Int32, maximum: Int32, step: Int32) {
        var request = v4l2_queryctrl()
        request.id = control.id
        do {
            try system.ioctl(currentDescriptor, mvad_request_vidioc_queryctrl(), &request)
        } catch {
            if error == .invalid { throw CameraError.controlMissing(path: path, control: control.name) }
            throw CameraError.call("VIDIOC_QUERYCTRL \(control.name)", path: path, error)
        }
        guard request.flags & UInt32(V4L2_CTRL_FLAG_DISABLED) == 0 else {
            throw CameraError.controlMissing(path: path, control: control.name)
        }
        return (request.minimum, request.maximum, max(1, request.step))
    }

    /// True if the camera has the control (QUERYCTRL succeeds and it is not disabled).
    private func exists(_ id: UInt32) throws(CameraError) -> Bool {
        var request = v4l2_queryctrl()
        request.id = id
        do {
            try system.ioctl(currentDescriptor, mvad_request_vidioc_queryctrl(), &request)
        } catch {
            if error == .invalid { return false }
            throw CameraError.call("VIDIOC_QUERYCTRL", path: path, error)
        }
        return request.flags & UInt32(V4L2_CTRL_FLAG_DISABLED) == 0
    }
}
