// `mvad convert --calibration-parts`: the quality gate's options, running it around the
// conversion, and printing what it measured (also when the pack fails it).

import Foundation
import MVADEngine
import MVADInspect
import MVADPack

extension ConvertCommand {
    /// Calibration parts used when --calibration-count is not given.
    static let defaultCalibrationCount = 4

    static let gateSpecs = [
        OptionSpec(name: "--calibration-parts", value: "DIR",
                   help: "check the pack against the float model on these parts (a folder "
                       + "of parts, or an Eyecandies dataset: its val split)"),
        OptionSpec(name: "--category", value: "C",
                   help: "dataset category of --calibration-parts (when there are several)"),
        OptionSpec(name: "--calibration-count", value: "N",
                   help: "use the first N parts (default \(defaultCalibrationCount), at least "
                       + "\(QualityGate.minimumParts))"),
        OptionSpec(name: "--min-cosine", value: "C",
                   help: "required mean feature cosine (default \(QualityGate.minimumMeanCosine))"),
        OptionSpec(name: "--modality", value: "M",
                   help: "views the gate runs: both (default with a ControlNet), rgb (default "
                       + "without), normals"),
        InspectSupport.threadsOption,
    ]

    static let gateDetails = """
        Quality gate (--calibration-parts): the pack is written under a temporary name, then
        every calibration part's final feature maps (RGB and normal map) are extracted with
        the float model folder and with the pack. The mean cosine similarity of corresponding
        feature vectors (per grid position, averaged over positions, parts and modalities;
        the minimum is reported too) must be at least \(QualityGate.minimumMeanCosine),
        and the image scores must rank the parts identically. Image score: each part scored
        leave-one-out against a memory bank that the same model builds from the other
        calibration parts, as 'mvad bank build' then 'mvad inspect' with that model would
        score it; it needs no data beyond the calibration parts, which should include a few
        defective ones for the order to mean something. A pack that fails is removed and the
        command exits 1 with the measured values.
        """

    /// The gate over the reference model folder and the mean cosine it requires, or nil
    /// without --calibration-parts.
    static func qualityGate(_ args: ParsedArguments, modelFolder: String) throws
        -> (gate: QualityGate, minimum: Double)? {
        guard let partsPath = args.string("--calibration-parts") else {
            for option in ["--calibration-count", "--min-cosine"] where args.string(option) != nil {
                throw UsageError(message: "convert: \(option) needs --calibration-parts")
            }
            return nil
        }
        var minimum = QualityGate.minimumMeanCosine
        if let text = args.string("--min-cosine") {
            guard let value = Double(text), value > 0, value <= 1 else {
                throw UsageError(message: "convert: --min-cosine must be a number in (0, 1], "
                                 + "got \(text)")
            }
            minimum = value
        }
        let count = try args.int("--calibration-count", default: defaultCalibrationCount,
                                 range: QualityGate.minimumParts...100_000)
            ?? defaultCalibrationCount
        let compute = Compute(threads: try args.int("--threads", range: 1...256))
        let reference = try InspectionModel.load(folder: modelFolder)
        let fallback: Modality = reference.control == nil ? .rgb : .both
        let choice = try args.choice("--modality", from: Modality.allCases.map(\.rawValue),
                                     default: fallback.rawValue)
        let modality = choice.flatMap(Modality.init) ?? fallback
        let listed = try InspectSupport.parts(at: partsPath, category: args.string("--category"),
                                              split: .val)
        let size = reference.settings.imageSize
        let parts = try listed.prefix(count).map { views in
            let part = try PartLoader.load(views, size: size, modality: modality,
                                           includeMask: false)
            return CalibrationPart(id: views.id,
                                   images: PartImages(lights: part.lights, normals: part.normals))
        }
        InspectSupport.log("quality gate: float model features of \(parts.count) parts")
        return (try QualityGate(reference: reference, parts: parts, modality: modality,
                                compute: compute), minimum)
    }

    /// Converts through the gate and prints the measurement, also when the gate fails.
    static func runGate(_ gate: QualityGate, minimum: Double, modelFolder: String,
                        output: String, options: ConversionOptions) throws
        -> (report: ConversionReport, measurement: QualityMeasurement) {
        do {
            let checked = try gate.convert(modelFolder: modelFolder, output: output,
                                           options: options, minimumMeanCosine: minimum)
            printGate(checked.measurement, gate: gate, minimum: minimum, passed: true)
            return checked
        } catch let QualityGateError.failed(pack, measurement, limit) {
            printGate(measurement, gate: gate, minimum: limit, passed: false)
            throw QualityGateError.failed(pack: pack, measurement: measurement,
                                          minimumMeanCosine: limit)
        }
    }

    private static func printGate(_ m: QualityMeasurement, gate: QualityGate, minimum: Double,
                                  passed: Bool) {
        print("quality gate on \(m.partIDs.count) calibration parts "
              + "(modality \(gate.modality.rawValue)): " + (passed ? "passed" : "FAILED"))
        print(String(format: "  mean feature cosine  %.6f  (required >= ", m.meanCosine)
              + "\(minimum))")
        print(String(format: "  minimum cosine       %.6f  (worst single feature vector)",
                     m.minimumCosine))
        print("  leave-one-out image scores:   part        float         pack")
        for (i, id) in m.partIDs.enumerated() {
            print("  " + String(repeating: " ", count: 30) + id.padding(
                toLength: 8, withPad: " ", startingAt: 0)
                  + String(format: "%12.6f %12.6f", m.referenceScores[i], m.candidateScores[i]))
        }
        print("  ranks identical: " + (m.ranksIdentical ? "yes" : "no (required)"))
        print("")
    }
}
