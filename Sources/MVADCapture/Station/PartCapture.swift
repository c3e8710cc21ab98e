// PartCapture: the six lit views of one part, each a fresh frame under its own light pattern,
// checked against its brightness band and retried a bounded number of times; the record of
// what was in force (controls, timestamps, sequence numbers, retries).

import MVADInspect

/// What happened for one view.
public struct ViewRecord: Codable, Equatable, Sendable {
    public let view: Int
    public let lights: [Int]
    public let switchNanoseconds: UInt64
    public let sequence: UInt32
    public let timestampNanoseconds: UInt64
    public let timestampSource: TimestampSource
    public let exposureStartNanoseconds: UInt64
    public let bytesUsed: Int
    public let meanBrightness: Double
    /// Attempts that failed before this one, with their reasons.
    public let retries: [String]
    public let staleBuffers: Int
    public let droppedBuffers: [SkippedBuffer]

    enum CodingKeys: String, CodingKey {
        case view, lights, sequence, retries
        case switchNanoseconds = "switch_ns"
        case timestampNanoseconds = "timestamp_ns"
        case timestampSource = "timestamp_source"
        case exposureStartNanoseconds = "exposure_start_bound_ns"
        case bytesUsed = "bytes_used"
        case meanBrightness = "mean_brightness"
        case staleBuffers = "stale_buffers"
        case droppedBuffers = "dropped_buffers"
    }
}

/// The capture metadata of one part.
public struct PartCaptureRecord: Codable, Equatable, Sendable {
    public let part: String
    public let device: String
    public let pixelFormat: PixelFormat
    public let width: Int
    public let height: Int
    public let frameIntervalMicroseconds: Int
    public let settleMilliseconds: Int
    public let controls: [ControlValue]
    public let views: [ViewRecord]
    public var normalsSource: NormalsSource
    public var normalsNote: String?
    /// How often the camera had to be reopened in this process so far.
    public var reopenCount = 0

    enum CodingKeys: String, CodingKey {
        case part, device, width, height, controls, views
        case pixelFormat = "pixel_format"
        case frameIntervalMicroseconds = "frame_interval_us"
        case settleMilliseconds = "settle_ms"
        case normalsSource = "normals_source"
        case normalsNote = "normals_note"
        case reopenCount = "camera_reopen_count"
    }
}

/// A captured part: six views in model order and their record.
public struct CapturedViews: Sendable {
    public let images: [Image]
    public var record: PartCaptureRecord
}

/// Why a part was not captured.
public enum PartCaptureError: Error, Equatable, CustomStringConvertible {
    /// A view stayed unusable after every retry; `reasons` lists each attempt's failure.
    case notCaptured(part: String, view: Int, reasons: [String])
    /// The camera failed (gone, timed out, a call failed): reopen it.
    case camera(CameraError)
    case lights(LightError)

    public var description: String {
        switch self {
        case .notCaptured(let part, let view, let reasons):
            return "part \(part) not captured: view \(view) failed \(reasons.count) times ("
                + reasons.joined(separator: "; ") + ")"
        case .camera(let error): return error.description
        case .lights(let error): return error.description
        }
    }
}

/// Takes the six lit views of parts with one camera session and one set of lights.
public final class PartCapture {
    public let session: CameraSession
    public let lights: LightSwitch
    public let profile: LightsProfile

    public init(session: CameraSession, lights: LightSwitch, profile: LightsProfile) {
        precondition(lights.count == CaptureProfile.directionalLights,
                     "\(lights.count) lights; the views need \(CaptureProfile.directionalLights)")
        self.session = session
        self.lights = lights
        self.profile = profile
    }

    /// The six views of part `id`; the lights are all off afterwards (also on failure).
    public func capture(part id: String) throws(PartCaptureError) -> CapturedViews {
        let controls: [ControlValue]
        do {
            controls = try session.verifyControls()
        } catch {
            throw .camera(error)
        }
        defer { _ = try? lights.show([]) }
        var images: [Image] = []
        var records: [ViewRecord] = []
        for view in 0..<CaptureProfile.views {
            let (image, record) = try captureView(view, part: id)
            images.append(image)
            records.append(record)
        }
        let format = session.format
        let record = PartCaptureRecord(
            part: id, device: session.device.path, pixelFormat: format.pixelFormat,
            width: format.width, height: format.height,
            frameIntervalMicroseconds: format.frameIntervalMicroseconds,
            settleMilliseconds: profile.settleMilliseconds, controls: controls, views: records,
            normalsSource: .none, normalsNote: nil)
        return CapturedViews(images: images, record: record)
    }

    /// One view: switch, take a fresh frame, check its band; retry up to the profile's limit.
    private func captureView(_ view: Int, part: String) throws(PartCaptureError)
        -> (Image, ViewRecord) {
        let lit = ViewLighting.lights(forView: view, lightCount: lights.count)
        let band = profile.brightnessBands?[view]
        let grabber = session.grabber(settleMilliseconds: profile.settleMilliseconds)
        var reasons: [String] = []
        for _ in 0...max(0, profile.maximumRetries) {
            let switched: UInt64
            do {
                switched = try lights.show(lit)
            } catch {
                throw .lights(error)
            }
            let frame: FreshFrame
            do {
                frame = try grabber.grab(after: switched)
            } catch {
                switch error {
                case .camera(let cameraError): throw .camera(cameraError)
                case .tooManyBadBuffers(let bad):
                    reasons.append("\(bad.count) unusable buffers, last: "
                                   + (bad.last?.reason ?? "?"))
                    continue
                }
            }
            let mean = PixelLevels.mean(frame.image)
            if let band, mean < band.min || mean > band.max {
                reasons.append(FrameProblem.brightnessOutOfBand(mean: mean, minimum: band.min,
                                                                maximum: band.max).description
                               + " (frame \(frame.sequence))")
                continue
            }
            let record = ViewRecord(
                view: view, lights: lit.sorted(), switchNanoseconds: switched,
                sequence: frame.sequence, timestampNanoseconds: frame.timestampNanoseconds,
                timestampSource: frame.timestampSource,
                exposureStartNanoseconds: frame.exposureStartNanoseconds,
                bytesUsed: frame.bytesUsed, meanBrightness: mean, retries: reasons,
                staleBuffers: frame.staleBuffers.count, droppedBuffers: frame.badBuffers)
            return (frame.image, record)
        }
        throw .notCaptured(part: part, view: view, reasons: reasons)
    }
}
