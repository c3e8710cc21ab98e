// StationCapture: everything a capture profile names, held open for the life of the process
// (camera connection, light lines, the depth or normal camera), capturing parts as six lit
// views plus a normal map, reopening a lost camera with backoff.

import MVADInspect

/// A captured part: the six views in model order, the encoded normal map (nil for RGB-only
/// inspection) and the capture record.
public struct CapturedPart: Sendable {
    public let images: [Image]
    public let normals: Image?
    public let record: PartCaptureRecord
}

/// Why a part could not be captured.
public enum StationCaptureError: Error, CustomStringConvertible {
    case part(PartCaptureError)
    /// The camera was lost and could not be reopened.
    case cameraLost(CameraError, reopenFailures: [ReopenAttempt])
    case normals(String)

    public var description: String {
        switch self {
        case .part(let error): return error.description
        case .cameraLost(let error, let failures):
            return "camera lost and not reopened after \(failures.count) attempts: "
                + error.description
        case .normals(let message): return "normal map not captured: \(message)"
        }
    }
}

/// The capture side of a station.
public final class StationCapture {
    public let profile: CaptureProfile
    public let camera: CameraConnection
    public let lights: LightSwitch
    public let secondCamera: CameraConnection?
    let system: any SystemCalls

    /// Requests the lights and opens the camera(s); errors name what failed.
    public init(profile: CaptureProfile, system: any SystemCalls) throws {
        self.profile = profile
        self.system = system
        if let gpio = profile.lights.gpio {
            lights = try GPIOLights(profile: gpio, system: system)
        } else if let command = profile.lights.command {
            lights = CommandLights(profile: command, system: system)
        } else {
            throw ProfileError(path: "", message: "lights: give 'gpio' or 'command'")
        }
        camera = CameraConnection(profile: profile.camera, reopen: profile.reopen, system: system)
        _ = try camera.current()
        let needsSecond = profile.normals.source == .depthCamera
            || profile.normals.source == .normalCamera
        if needsSecond, let second = profile.normals.depthCamera {
            secondCamera = CameraConnection(profile: second.camera, reopen: profile.reopen,
                                            system: system)
            _ = try secondCamera?.current()
        } else {
            secondCamera = nil
        }
    }

    /// Captures part `id`. A camera that is gone is reopened (with backoff) and the part
    /// captured again, once.
    public func capture(part id: String) throws(StationCaptureError) -> CapturedPart {
        var views: CapturedViews
        do {
            views = try captureViews(id)
        } catch {
            guard case .camera(let cameraError) = error, cameraError.meansDeviceGone else {
                throw .part(error)
            }
            do {
                _ = try camera.reconnect()
            } catch {
                throw .cameraLost(error, reopenFailures: camera.failedAttempts)
            }
            do {
                views = try captureViews(id)
            } catch {
                throw .part(error)
            }
        }
        let normals = try normalMap(views)
        views.record.normalsSource = profile.normals.source
        views.record.reopenCount = camera.reopenCount
        if normals == nil { views.record.normalsNote = "no normal map: RGB-only inspection" }
        return CapturedPart(images: views.images, normals: normals, record: views.record)
    }

    private func captureViews(_ id: String) throws(PartCaptureError) -> CapturedViews {
        let session: CameraSession
        do {
            session = try camera.current()
        } catch {
            throw .camera(error)
        }
        return try PartCapture(session: session, lights: lights, profile: profile.lights)
            .capture(part: id)
    }

    /// The encoded normal map from the profile's source.
    private func normalMap(_ views: CapturedViews) throws(StationCaptureError) -> Image? {
        let settings = profile.normals
        switch settings.source {
        case .none:
            return nil
        case .photometricStereo:
            guard let directions = settings.lightDirections else {
                throw .normals("no light directions in the profile")
            }
            let stereo = PhotometricStereo(directions: directions, shadowLevel: settings.shadowLevel,
                                           ambient: settings.ambient,
                                           ambientRatio: settings.ambientRatio)
            let directional = Array(views.images.prefix(CaptureProfile.directionalLights))
            return stereo.normals(views: directional, allLights: views.images.last).encoded()
        case .depthCamera, .normalCamera:
            guard let second = settings.depthCamera, let connection = secondCamera else {
                throw .normals("no second camera in the profile")
            }
            let frame = try secondFrame(connection)
            if settings.source == .normalCamera { return frame.rgb() }
            guard let intrinsics = second.intrinsics,
                  case .uint16(let raw) = frame.samples else {
                throw .normals("the depth camera gave no 16-bit depth")
            }
            let depth = raw.map { Float($0) * Float(second.depthUnitMillimetres) }
            return NormalsFromDepth.normals(depth: depth, width: frame.width, height: frame.height,
                                            intrinsics: intrinsics).encoded()
        }
    }

    /// A fresh frame of the second camera (exposed after now), reopening it once if gone.
    private func secondFrame(_ connection: CameraConnection) throws(StationCaptureError) -> Image {
        var lastError = CameraError.timeout(path: connection.profile.device, waitedMilliseconds: 0)
        for attempt in 0..<2 {
            if attempt > 0 {
                do {
                    _ = try connection.reconnect()
                } catch {
                    throw .normals(error.description)
                }
            }
            let session: CameraSession
            do {
                session = try connection.current()
            } catch {
                lastError = error
                continue
            }
            do {
                return try session.grabber(settleMilliseconds: 0)
                    .grab(after: system.monotonicNanoseconds()).image
            } catch {
                switch error {
                case .camera(let cameraError) where cameraError.meansDeviceGone:
                    lastError = cameraError
                case .camera(let cameraError): throw .normals(cameraError.description)
                case .tooManyBadBuffers(let bad):
                    throw .normals("\(bad.count) unusable buffers from the second camera")
                }
            }
        }
        throw .normals(lastError.description)
    }
}
