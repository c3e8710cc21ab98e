// PartSource: where the loop's parts come from: recorded parts replayed from a folder (in
// order, cycling), or the station's camera and lights, each captured part written to the work
// folder in the Eyecandies layout so it is loaded exactly as `mvad inspect` loads it.

import Foundation
import MVADCapture
import MVADInspect

/// A part ready for inspection: its id for the record, its view files and, when captured, the
/// capture record.
public struct AcquiredPart: Sendable {
    public let id: String
    public let views: PartViews
    public let capture: PartCaptureRecord?
}

/// A fault of the station for one part: the kind (for the record) and the reason.
public struct StationFault: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Codable, Sendable {
        case cameraLost = "camera_lost"
        /// The camera failed otherwise (a call failed, no frame in time, cannot be opened).
        case camera
        case captureRejected = "capture_rejected"
        case partUnreadable = "part_unreadable"
        case model
        case handshake
        case stopped
    }
    public let kind: Kind
    public let reason: String

    public init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }

    public var description: String { "\(kind.rawValue): \(reason)" }

    /// The station was stopped while a part was being inspected: the part fails, without FAULT.
    public static let stoppedDuringInspection = StationFault(
        .stopped, "the station was stopped during the inspection (SIGTERM or SIGINT); the part is failed")
}

/// A source of parts.
public protocol PartSource: AnyObject {
    /// Number of parts a replay pass holds (nil: unbounded, a camera).
    var partsPerPass: Int? { get }
    /// The next part; a failure is a fault for that part.
    func acquire(partNumber: Int) throws(StationFault) -> AcquiredPart
    /// Tries to make the source usable again after a fault; true when it is.
    func recover() -> Bool
    /// Passes over the part at hand without taking it (a person skipping it in live
    /// calibration). A camera has nothing to pass over; a replay moves to its next part.
    func skip()
}

extension PartSource {
    public func skip() {}
}

/// Recorded parts from a folder, taken in order and cycled.
public final class ReplaySource: PartSource {
    public let parts: [PartViews]
    private var next = 0

    /// The parts of `folder` (Eyecandies naming, e.g. NNN_image_0..5 + NNN_normals).
    public init(folder: String) throws {
        parts = try PartFolder.parts(in: URL(fileURLWithPath: folder))
        guard !parts.isEmpty else {
            throw StationFault(.partUnreadable, "\(folder) holds no parts (expected "
                               + "NNN_image_0..5 and NNN_normals files)")
        }
    }

    public var partsPerPass: Int? { parts.count }

    public func acquire(partNumber: Int) throws(StationFault) -> AcquiredPart {
        let views = parts[next]
        next = (next + 1) % parts.count
        return AcquiredPart(id: views.id, views: views, capture: nil)
    }

    public func recover() -> Bool { true }

    public func skip() {
        next = (next + 1) % parts.count
    }
}

/// Parts from the station's camera and lights.
public final class CaptureSource: PartSource {
    public let station: StationCapture
    public let writer: CaptureWriter

    /// Opens the devices (errors name them) and creates the work folder.
    public init(profile: CaptureProfile, workFolder: String, system: any SystemCalls) throws {
        station = try StationCapture(profile: profile, system: system)
        writer = try CaptureWriter(root: URL(fileURLWithPath: workFolder))
    }

    public var partsPerPass: Int? { nil }

    public func acquire(partNumber: Int) throws(StationFault) -> AcquiredPart {
        // Every part is written under the same id: the work folder holds one part at a time
        // (rejected parts are copied out before the next one overwrites it).
        let id = CaptureWriter.id(0)
        let part: CapturedPart
        do {
            part = try station.capture(part: id)
        } catch {
            switch error {
            case .cameraLost: throw StationFault(.cameraLost, error.description)
            case .part(.camera(let camera)) where camera.meansDeviceGone:
                throw StationFault(.cameraLost, error.description)
            case .part(.camera):
                throw StationFault(.camera, error.description)
            default: throw StationFault(.captureRejected, error.description)
            }
        }
        // FIXME(perf): the views go through PNG files in the work folder (tmpfs on a station)
        // because PartLoader reads files; an in-memory path would save the encode and decode.
        do {
            try writer.write(part)
            guard let views = try PartFolder.part(id: id, in: writer.data) else {
                throw StationFault(.partUnreadable, "part \(id) not found in \(writer.data.path)")
            }
            return AcquiredPart(id: String(partNumber), views: views, capture: part.record)
        } catch let fault as StationFault {
            throw fault
        } catch {
            throw StationFault(.partUnreadable, "writing part \(id) to \(writer.data.path): \(error)")
        }
    }

    /// Opens the camera again if it was lost (one attempt; the loop calls this repeatedly).
    public func recover() -> Bool {
        do {
            _ = try station.camera.current()
            return true
        } catch {
            return false
        }
    }
}
