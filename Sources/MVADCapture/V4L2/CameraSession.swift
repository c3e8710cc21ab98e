// CameraSession: a camera opened and set up from its profile: format and frame interval
// negotiated, manual controls applied, streaming started, controls applied again and read back.

/// A streaming camera in the state its profile asks for.
public final class CameraSession {
    public let profile: CameraProfile
    public let device: VideoDevice
    public let format: NegotiatedFormat
    /// The control values read back after streaming started: the values in force.
    public private(set) var controls: [ControlValue]

    /// Opens and configures the camera; throws if the camera does not take any setting.
    public init(profile: CameraProfile, system: any SystemCalls) throws(CameraError) {
        self.profile = profile
        device = try VideoDevice(path: profile.device, system: system)
        format = try device.configure(pixelFormat: profile.pixelFormat, width: profile.width,
                                      height: profile.height,
                                      frameIntervalMicroseconds: profile.frameIntervalMicroseconds)
        _ = try device.applyManualControls(profile.manualControls)
        try device.startStreaming(bufferCount: profile.bufferCount)
        // Some cameras reset controls on STREAMON: write them again and keep what reads back.
        controls = try device.applyManualControls(profile.manualControls)
    }

    /// Reads every held control again and checks none drifted (another program, a camera
    /// reset); returns the values.
    public func verifyControls() throws(CameraError) -> [ControlValue] {
        for control in controls {
            let now = try device.value(of: (control.id, control.name))
            guard now == control.value else {
                throw CameraError.controlNotApplied(path: device.path, control: control.name,
                                                    wrote: control.value, readBack: now)
            }
        }
        return controls
    }

    /// A grabber with the profile's settle time, timeout and bad-frame limit.
    public func grabber(settleMilliseconds: Int) -> FreshFrameGrabber {
        FreshFrameGrabber(camera: device, format: format,
                          settleNanoseconds: UInt64(settleMilliseconds) * 1_000_000,
                          exposureNanoseconds: UInt64(profile.exposureMicroseconds
                                                      ?? profile.frameIntervalMicroseconds) * 1_000,
                          timeoutMilliseconds: profile.timeoutMilliseconds,
                          maximumBadBuffers: profile.maximumBadFrames)
    }

    public func close() {
        device.close()
    }
}
