// LiveCalibration: sample parts for `mvad calibrate --profile P`, taken one by one through the
// station's own part source (camera and lights, or a replay folder) after a person answers a
// prompt, and scored exactly as the station scores them. Writing the chosen threshold back
// into a station profile is here too.

import Foundation
import MVADInspect

/// What was collected for one label ("good" or "bad").
public struct LiveSamples: Sendable, Equatable {
    public var scored: [PartScore] = []
    /// Parts that were not scored: (name, reason).
    public var skipped: [SkippedSample] = []
    /// true when the person stopped (q) or standard input ended before `count` parts.
    public var stoppedEarly = false
    /// Scored parts whose mask file (replay) says the opposite of their label.
    public var contradicted: [String] = []

    public init(scored: [PartScore] = [], skipped: [SkippedSample] = [],
                stoppedEarly: Bool = false, contradicted: [String] = []) {
        self.scored = scored
        self.skipped = skipped
        self.stoppedEarly = stoppedEarly
        self.contradicted = contradicted
    }
}

public struct SkippedSample: Sendable, Equatable {
    public let name: String
    public let reason: String

    public init(name: String, reason: String) {
        self.name = name
        self.reason = reason
    }
}

public struct LiveCalibration {
    public let source: PartSource
    public let inspection: PartInspection
    /// Shows a prompt and returns the answer line, or nil when input has ended.
    public let ask: (String) -> String?
    private var partNumber = 0

    public init(source: PartSource, inspection: PartInspection,
                ask: @escaping (String) -> String?) {
        self.source = source
        self.inspection = inspection
        self.ask = ask
    }

    /// Up to `count` parts labelled `label`. Before each: the prompt; an empty line (or any
    /// other) takes the part, "s" skips it, "q" or the end of input stops. A part that cannot
    /// be acquired or inspected is skipped with the reason, never scored. Each scored part
    /// is named "<label>-<k>" and, when the source names it, "(<part id>)".
    public mutating func collect(label: String, count: Int) -> LiveSamples {
        var samples = LiveSamples()
        guard count > 0 else { return samples }
        for k in 1...count {
            let name = String(format: "%@-%02d", label, k)
            guard let answer = ask("place \(label) part \(k) of \(count), then press Enter "
                                   + "(s = skip, q = stop)") else {
                samples.stoppedEarly = true
                break
            }
            switch answer.trimmingCharacters(in: .whitespaces).lowercased() {
            case "q":
                samples.stoppedEarly = true
                return samples
            case "s":
                samples.skipped.append(SkippedSample(name: name, reason: "skipped at the prompt"))
                source.skip()
                continue
            default:
                break
            }
            partNumber += 1
            do throws(StationFault) {
                let part = try source.acquire(partNumber: partNumber)
                let (result, _) = try inspection.inspect(part.views)
                samples.scored.append(PartScore(id: "\(name) (\(part.id))", score: result.score))
                let size = inspection.model.settings.imageSize
                // nil without a mask, or when it cannot be read: nothing to compare
                if let defective = try? PartLoader.maskMarksDefect(part.views, size: size),
                   defective != (label == "bad") {
                    samples.contradicted.append("\(name) (\(part.id)): taken as \(label), but its "
                        + "mask file marks it \(defective ? "defective" : "good")")
                }
            } catch {
                samples.skipped.append(SkippedSample(name: name, reason: error.description))
                _ = source.recover()
            }
        }
        return samples
    }
}

extension StationProfile {
    /// Sets `model.threshold` in the profile file at `path`, keeping every other key and
    /// value, and replaces the file atomically. The result must still load as a profile.
    public static func writeThreshold(_ threshold: Double, toProfileAt path: String) throws {
        let url = URL(fileURLWithPath: path)
        let data = try Data(contentsOf: url)
        guard var object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              var model = object["model"] as? [String: Any] else {
            throw ProfileWriteError(path: path,
                                    problem: "is not a JSON object with a 'model' object")
        }
        guard threshold > 0, threshold.isFinite else {
            throw ProfileWriteError(path: path, problem: "gets threshold \(threshold); a threshold "
                                    + "must be a finite number > 0")
        }
        model["threshold"] = threshold
        object["model"] = model
        let text = try JSONSerialization.data(
            withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try (text + Data("\n".utf8)).write(to: url, options: .atomic)
    }
}

public struct ProfileWriteError: Error, CustomStringConvertible {
    public let path: String
    public let problem: String
    public var description: String { "station profile \(path) \(problem)" }
}
