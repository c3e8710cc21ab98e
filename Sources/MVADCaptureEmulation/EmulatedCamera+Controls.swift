// EmulatedCamera+Controls: the controls of a typical UVC camera (auto exposure menu, exposure
// time in 100 us units, gain, auto white balance, colour temperature) with QUERYCTRL ranges,
// the V4L2 control framework's clamping and step rounding, and auto modes that override the
// manual values while they are on.

import CLinuxUAPI
import MVADCapture

/// One emulated control.
struct EmulatedControl {
    let name: String
    let type: UInt32
    let minimum: Int32
    let maximum: Int32
    let step: Int32
    let defaultValue: Int32
    var value: Int32
}

extension EmulatedCamera {
    /// What an auto mode chooses while it is on.
    static let autoExposureValue: Int32 = 250
    static let autoWhiteBalanceValue: Int32 = 5000

    static func uvcControls() -> [UInt32: EmulatedControl] {
        func control(_ name: String, _ type: v4l2_ctrl_type, _ minimum: Int32, _ maximum: Int32,
                     _ step: Int32, _ value: Int32) -> EmulatedControl {
            EmulatedControl(name: name, type: type.rawValue, minimum: minimum, maximum: maximum,
                            step: step, defaultValue: value, value: value)
        }
        return [
            CameraControl.exposureAuto.id: control("Auto Exposure", V4L2_CTRL_TYPE_MENU, 0, 3, 1,
                                                   Int32(V4L2_EXPOSURE_APERTURE_PRIORITY.rawValue)),
            CameraControl.exposureAbsolute.id: control("Exposure Time, Absolute",
                                                       V4L2_CTRL_TYPE_INTEGER, 3, 2047, 1, 156),
            CameraControl.gain.id: control("Gain", V4L2_CTRL_TYPE_INTEGER, 0, 255, 1, 32),
            CameraControl.autoWhiteBalance.id: control("White Balance, Automatic",
                                                       V4L2_CTRL_TYPE_BOOLEAN, 0, 1, 1, 1),
            CameraControl.whiteBalance.id: control("White Balance Temperature",
                                                   V4L2_CTRL_TYPE_INTEGER, 2800, 6500, 10, 4600),
        ]
    }

    /// The value G_CTRL reports: an auto mode that is on overrides the stored manual value.
    func effectiveValue(_ id: UInt32) -> Int32? {
        guard let control = controls[id] else { return nil }
        if id == CameraControl.exposureAbsolute.id,
           controls[CameraControl.exposureAuto.id]?.value != CameraControl.exposureManual {
            return EmulatedCamera.autoExposureValue
        }
        if id == CameraControl.whiteBalance.id,
           controls[CameraControl.autoWhiteBalance.id]?.value != 0 {
            return EmulatedCamera.autoWhiteBalanceValue
        }
        return control.value
    }

    /// Sets a control's value without the ioctl path (a test changing the camera's state, as
    /// another program with the device open could).
    public func forceControl(_ id: UInt32, to value: Int32) {
        controls[id]?.value = value
    }

    /// Removes a control (a camera without it).
    public func removeControl(_ id: UInt32) {
        controls[id] = nil
    }

    /// The current value of a control as G_CTRL reports it.
    public func controlValue(_ id: UInt32) -> Int32? {
        effectiveValue(id)
    }

    func queryControl(_ argument: UnsafeMutableRawPointer) throws(Errno) {
        var query = argument.load(as: v4l2_queryctrl.self)
        guard let control = controls[query.id] else { throw Errno.invalid }
        query.type = control.type
        FixedName.write(control.name, into: &query.name)
        query.minimum = control.minimum
        query.maximum = control.maximum
        query.step = control.step
        query.default_value = control.defaultValue
        query.flags = 0
        argument.storeBytes(of: query, as: v4l2_queryctrl.self)
    }

    func getControl(_ argument: UnsafeMutableRawPointer) throws(Errno) {
        var request = argument.load(as: v4l2_control.self)
        guard let value = effectiveValue(request.id) else { throw Errno.invalid }
        request.value = value
        argument.storeBytes(of: request, as: v4l2_control.self)
    }

    /// Integer controls are clamped to the range and rounded to the step (as the kernel's
    /// control framework does); menu entries outside the range are refused with ERANGE.
    func setControl(_ argument: UnsafeMutableRawPointer) throws(Errno) {
        var request = argument.load(as: v4l2_control.self)
        guard var control = controls[request.id] else { throw Errno.invalid }
        var value = request.value
        // Like many UVC cameras, a manual value written while its auto mode is on is dropped.
        if effectiveValue(request.id) != control.value {
            request.value = effectiveValue(request.id) ?? value
            argument.storeBytes(of: request, as: v4l2_control.self)
            return
        }
        if control.type == V4L2_CTRL_TYPE_MENU.rawValue {
            guard value >= control.minimum && value <= control.maximum else { throw Errno.range }
        } else {
            value = min(max(value, control.minimum), control.maximum)
            let steps = (Int64(value) - Int64(control.minimum) + Int64(control.step) / 2)
                / Int64(control.step)
            value = Int32(Int64(control.minimum) + steps * Int64(control.step))
        }
        control.value = value
        controls[request.id] = control
        request.value = value
        argument.storeBytes(of: request, as: v4l2_control.self)
    }
}

/// Writes a string into a fixed C char array (imported as a tuple).
enum FixedName {
    static func write<T>(_ text: String, into tuple: inout T) {
        withUnsafeMutableBytes(of: &tuple) { raw in
            raw.initializeMemory(as: UInt8.self, repeating: 0)
            for (index, byte) in text.utf8.prefix(raw.count - 1).enumerated() { raw[index] = byte }
        }
    }

    static func read<T>(_ tuple: T) -> String {
        withUnsafeBytes(of: tuple) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
