// PartRecord: what the loop reports for each part, one JSON line: part number, time, verdict,
// scores, per-stage times, the capture controls in force, and the reason on failure; plus the
// process figures (RSS, open descriptors) used by the soak run.

import Foundation
import MVADCapture

/// Resident memory and open file descriptors of this process (Linux /proc/self).
public struct ProcessFigures: Codable, Equatable, Sendable {
    public let residentKilobytes: Int
    public let openDescriptors: Int

    enum CodingKeys: String, CodingKey {
        case residentKilobytes = "rss_kb"
        case openDescriptors = "open_fds"
    }

    public init(residentKilobytes: Int, openDescriptors: Int) {
        self.residentKilobytes = residentKilobytes
        self.openDescriptors = openDescriptors
    }

    /// VmRSS from /proc/self/status and the entries of /proc/self/fd (-1 where unreadable).
    public static func now() -> ProcessFigures {
        var rss = -1
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) {
            for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
                rss = Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
            }
        }
        // The listing itself holds one descriptor open while it reads the folder.
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))
        return ProcessFigures(residentKilobytes: rss,
                              openDescriptors: entries.map { $0.count - 1 } ?? -1)
    }
}

/// The process figures at the start of the run and now.
public struct SoakFigures: Codable, Equatable, Sendable {
    public let start: ProcessFigures
    public let end: ProcessFigures
}

/// The outcome of one part.
public struct PartRecord: Codable, Equatable, Sendable {
    public enum Verdict: String, Codable, Sendable { case pass, fail }

    /// Incrementing from 1 in this process.
    public let partNumber: Int
    /// The part's id in its source (replay: the file id; capture: the part number).
    public var partID: String?
    /// UTC, ISO 8601 with milliseconds, when the result was presented.
    public let time: String
    public var verdict: Verdict
    public var fault: Bool
    public var faultKind: StationFault.Kind?
    public var reason: String?
    public var score: Double?
    public var rgbScore: Double?
    public var normalsScore: Double?
    public var threshold: Double?
    /// Seconds per stage: acquire (capture or replay), load, encode, inversion, features,
    /// scoring, save (rejects), total.
    public var stageSeconds: [String: Double]
    /// The manual camera controls read back before the part (capture only).
    public var captureControls: [ControlValue]?
    /// CLOCK_MONOTONIC of the trigger edge (GPIO trigger only).
    public var triggerNanoseconds: UInt64?
    /// Trigger edges that arrived while this part was handled: counted, not queued.
    public var triggersWhileBusy: Int
    /// Where the rejected part was saved, if it was.
    public var savedTo: String?
    /// Present on the last part of a bounded run.
    public var process: SoakFigures?

    enum CodingKeys: String, CodingKey {
        case time, verdict, fault, reason, score, threshold, process
        case partNumber = "part_number"
        case partID = "part_id"
        case faultKind = "fault_kind"
        case rgbScore = "rgb_score"
        case normalsScore = "normals_score"
        case stageSeconds = "stage_s"
        case captureControls = "capture_controls"
        case triggerNanoseconds = "trigger_ns"
        case triggersWhileBusy = "triggers_while_busy"
        case savedTo = "saved_to"
    }

    public init(partNumber: Int, time: Date) {
        self.partNumber = partNumber
        self.time = PartRecord.timestamp(time)
        verdict = .fail
        fault = false
        stageSeconds = [:]
        triggersWhileBusy = 0
    }

    /// A fault for this part: FAIL with the reason.
    mutating func setFault(_ fault: StationFault) {
        verdict = .fail
        self.fault = true
        faultKind = fault.kind
        reason = fault.reason
    }

    /// The record as one line of JSON (keys sorted).
    public func jsonLine() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else {
            preconditionFailure("a PartRecord always encodes")
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
