// PartInspection: the model and memory banks a station profile names, loaded once; one part's
// views in, the inspection result out (as `mvad inspect` computes it), and its heatmap picture.

import Foundation
import MVADEngine
import MVADInspect
import MVADPack

/// An inspection result with the stage timings of the station (load_s added).
public struct StationResult: Sendable {
    public let inspection: InspectionResult
    public var timings: [String: Double]
    public var score: Double { inspection.score }
    public var threshold: Double? { inspection.threshold }
    public var scores: PartScores { inspection.scores }

    init(_ inspection: InspectionResult) {
        self.inspection = inspection
        timings = inspection.timings
    }
}

/// The inspection side of a station.
public final class PartInspection {
    public let model: InspectionModel
    public let inspector: Inspector
    public let modality: Modality
    /// Where the verdict threshold came from, for the station's log: the profile, or which
    /// banks (the profile's bank file or the pack's) and how they got it.
    public let thresholdOrigin: String

    /// Loads the model (a .mvad pack or a folder) and the bank; the verdict needs a threshold,
    /// from the profile or stored with the bank.
    /// `requireThreshold` false: for calibration, which scores parts before any threshold
    /// exists.
    public init(profile: ModelProfile, requireThreshold: Bool = true) throws {
        guard let modality = Modality(rawValue: profile.modality) else {
            throw StationFault(.model, "model.modality '\(profile.modality)' is not both, rgb "
                               + "or normals")
        }
        self.modality = modality
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: profile.path, isDirectory: &isFolder),
           !isFolder.boolValue {
            try Self.verify(pack: profile.path)
            model = try InspectionModel.load(pack: profile.path)
        } else {
            model = try InspectionModel.load(folder: profile.path)
        }
        let banks: BankFile
        if let bank = profile.bank {
            banks = try BankFile(path: bank)
        } else {
            let pack = try PackFile(path: profile.path)
            guard BankFile.isStored(in: pack) else {
                throw StationFault(.model, "\(profile.path) holds no banks: set model.bank in the "
                                   + "profile, or store them with mvad convert --bank")
            }
            banks = try BankFile(pack: pack)
        }
        if profile.threshold != nil {
            thresholdOrigin = "the profile's model.threshold"
        } else {
            let holder = profile.bank.map { "bank file \($0)" } ?? "banks stored in \(profile.path)"
            thresholdOrigin = holder + (banks.provenance["threshold_source"].map { ", from \($0)" } ?? "")
        }
        inspector = try Inspector(model: model, banks: banks, modality: modality,
                                  compute: Compute(threads: profile.threads),
                                  threshold: profile.threshold)
        guard inspector.threshold != nil || !requireThreshold else {
            throw StationFault(.model, "no threshold: set model.threshold in the profile or store "
                               + "one with the bank (mvad calibrate)")
        }
    }

    /// A station runs one pack for months, so it checks every tensor's checksum once before
    /// the first part (a second or less for a full-size pack) instead of trusting the cheap
    /// table check that opening does: a flipped bit in the weights would otherwise only shift
    /// the scores.
    public static func verify(pack path: String) throws {
        do {
            _ = try PackFile(path: path).verify()
        } catch {
            throw StationFault(.model, "model pack \(path) failed its full check, so the station "
                               + "does not run it: \(error)")
        }
    }

    /// Loads and inspects one part; the load time is added to the timings as load_s. When
    /// `cancellation` fires during the inspection, the fault is `.stopped`
    /// (`StationFault.stoppedDuringInspection`) and there is no result.
    public func inspect(_ views: PartViews, cancellation: (any CancellationCheck)? = nil)
        throws(StationFault) -> (StationResult, LoadedPart) {
        let started = DispatchTime.now().uptimeNanoseconds
        let part: LoadedPart
        do {
            part = try PartLoader.load(views, size: model.settings.imageSize, modality: modality,
                                       includeMask: false)
        } catch {
            throw StationFault(.partUnreadable, "part \(views.id): \(error)")
        }
        let loaded = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        do {
            var result = StationResult(try inspector.inspect(part, cancellation: cancellation))
            result.timings["load_s"] = loaded
            return (result, part)
        } catch InspectionError.cancelled {
            throw StationFault.stoppedDuringInspection
        } catch {
            throw StationFault(.model, "part \(views.id): \(error)")
        }
    }

    /// The heatmap picture of a result (the all-lights view, or the normal map for normals-only
    /// inspection, under the fused anomaly map anchored at the threshold), as a PNG.
    public func writeHeatmap(_ result: StationResult, part: LoadedPart, to url: URL) throws {
        guard let picture = try HeatmapPicture.render(
            result.inspection, part: part, rgbWeight: model.settings.rgbWeight,
            normalsWeight: model.settings.normalsWeight) else { return }
        try ImageWriter.writePNG(picture, to: url)
    }
}
