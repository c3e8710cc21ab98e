// `mvad inspect`: one JSON line per part (verdict, scores, threshold, per-stage timings), and
// optionally a heatmap picture.

import Foundation
import MVADEngine
import MVADInspect

enum InspectCommand: Command {
    static let name = "inspect"
    static let summary = "inspect parts: verdict, scores and timings as JSON, heatmap picture"

    static let specs = [
        InspectSupport.modelOption,
        InspectSupport.bankOption,
        OptionSpec(name: "--part", value: "DIR",
                   help: "a part folder, or a folder of parts in Eyecandies naming (each inspected)"),
        OptionSpec(name: "--id", value: "NNN", help: "only the part with this id"),
        OptionSpec(name: "--threshold", value: "T",
                   help: "verdict threshold (default: the one stored with the bank)"),
        OptionSpec(name: "--heatmap", value: "FILE.png",
                   help: "write the heatmap picture (several parts: FILE-<id>.png)"),
        OptionSpec(name: "--text", value: nil,
                   help: "one line per part for people instead of JSON (with the mask's truth "
                       + "when the part has a mask)"),
        InspectSupport.modalityOption,
        InspectSupport.threadsOption,
    ]

    static let help = helpText(
        usage: "mvad inspect --model M [--bank BANK] --part DIR [--heatmap FILE.png]",
        summary: summary, specs: specs, details: """
        Output, one line per part: {"part", "verdict" ("pass", "fail", or "unknown" without a
        threshold), "score" (fused), "rgb_score", "normals_score", "threshold",
        "threshold_source", "threshold_provenance" (a calibrated threshold: strategy, date,
        counts, statistics), "modality", "timings_s" {load, encode, inversion, features,
        scoring}}. A part fails when its score is at or above the threshold. --text prints
        "<id>  PASS|FAIL  score S < or >= T  (rgb R, normals N)  <total> s" instead, with
        "mask: good" or "mask: defective" when the part has a mask file.
        A part whose views cannot be read gets {"part", "verdict": "unreadable", "error"}
        (--text: "<id>  UNREADABLE  <reason>"); the others are still inspected, and the
        command then exits 1 naming the unreadable parts.
        The heatmap shows the all-lights view (image_5) with the fused anomaly map on a fixed
        colour scale anchored at the threshold (yellow = threshold, red = twice it), then the
        RGB and normal-map anomaly maps, each on the scale of its share of the threshold; a
        colour bar runs along the bottom with a white tick at the threshold. The maps are the
        nearest-neighbour distances of the feature grid, upsampled and weighted as the score
        weighs them. Without a threshold the scale is anchored at the part's own score.
        """)

    static func run(_ arguments: [String]) throws {
        let args = try ParsedArguments(arguments, specs: specs, command: name)
        try args.noPositional()
        let modality = try InspectSupport.modality(args)
        let threshold = try InspectSupport.threshold(args)
        let compute = Compute(threads: try args.int("--threads", range: 1...256))
        let modelPath = try args.required("--model")
        let partPath = try args.required("--part")
        if let heatmap = args.string("--heatmap") {
            guard heatmap.lowercased().hasSuffix(".png") else {
                throw UsageError(message: "inspect: --heatmap writes a PNG; name it *.png, got \(heatmap)")
            }
            try InspectSupport.checkWritable(heatmap, what: "heatmap")
        }
        let banks = try InspectSupport.banks(args, modelPath: modelPath, command: name)
        let model = try InspectSupport.loadModel(modelPath)
        let inspector = try Inspector(model: model, banks: banks, modality: modality,
                                      compute: compute, threshold: threshold)
        var parts = try InspectSupport.parts(at: partPath, category: nil,
                                             split: .testPublic)
        let provenance = banks.provenance.filter { $0.key.hasPrefix("calibration.") }
        if args.has("--text") {
            print(threshold.map { String(format: "threshold %.6g (command line)", $0) }
                  ?? "threshold " + InspectSupport.thresholdSummary(banks))
        }
        if let id = args.string("--id") {
            parts = parts.filter { $0.id == id }
            guard !parts.isEmpty else {
                throw CommandFailure("no part with id \(id) in \(args.string("--part") ?? "")")
            }
        }
        var unreadable: [String] = []
        for views in parts {
            var clock = DispatchTime.now().uptimeNanoseconds
            let part: LoadedPart
            do {
                part = try PartLoader.load(views, size: model.settings.imageSize, modality: modality,
                                           includeMask: false)
            } catch {
                // One bad part does not stop the others; the exit status still says so.
                unreadable.append(views.id)
                print(args.has("--text") ? "\(views.id)  UNREADABLE  \(error)"
                      : unreadableLine(views.id, error: error))
                continue
            }
            let load = Double(DispatchTime.now().uptimeNanoseconds - clock) / 1e9
            clock = DispatchTime.now().uptimeNanoseconds
            let result = try inspector.inspect(part)
            if args.has("--text") {
                print(textLine(result, load: load,
                               mask: maskNote(views, size: model.settings.imageSize)))
            } else {
                print(jsonLine(result, modality: modality, load: load,
                               provenance: threshold == nil ? provenance : [:]))
            }
            if let heatmap = args.string("--heatmap") {
                let path = parts.count == 1 ? heatmap : insertSuffix(views.id, into: heatmap)
                try writeHeatmap(result, part: part,
                                 weights: (model.settings.rgbWeight, model.settings.normalsWeight),
                                 to: path)
            }
        }
        if !unreadable.isEmpty {
            throw CommandFailure("\(unreadable.count) of \(parts.count) parts could not be read: "
                                 + unreadable.joined(separator: ", "))
        }
    }

    /// The JSON line of a part whose views could not be read: verdict "unreadable".
    static func unreadableLine(_ id: String, error: any Error) -> String {
        let object: [String: Any] = ["part": id, "verdict": "unreadable", "error": "\(error)"]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    static func jsonLine(_ r: InspectionResult, modality: Modality, load: Double,
                         provenance: [String: String] = [:]) -> String {
        var timings = r.timings
        timings["load_s"] = load
        var object: [String: Any] = [
            "part": r.partID,
            "verdict": r.passed.map { $0 ? "pass" : "fail" } ?? "unknown",
            "score": r.score, "modality": modality.rawValue,
            "threshold_source": r.thresholdSource,
            "timings_s": timings.mapValues { ($0 * 1000).rounded() / 1000 },
        ]
        object["rgb_score"] = r.rgbScore ?? NSNull()
        object["normals_score"] = r.normalsScore ?? NSNull()
        object["threshold"] = r.threshold ?? NSNull()
        if !provenance.isEmpty {
            object["threshold_provenance"] = Dictionary(uniqueKeysWithValues: provenance.map {
                (String($0.key.dropFirst("calibration.".count)), $0.value)
            })
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// One line for people: verdict, score against the threshold, the modalities' scores, the
    /// time, and the mask's truth when there is a mask.
    /// "mask: good", "mask: defective" or "mask: unreadable" for a part with a mask file;
    /// nil without one. The mask is only a note: it never stops the inspection.
    static func maskNote(_ views: PartViews, size: Int) -> String? {
        guard views.mask != nil else { return nil }
        guard let defective = try? PartLoader.maskMarksDefect(views, size: size) else {
            return "mask: unreadable"
        }
        return defective ? "mask: defective" : "mask: good"
    }

    static func textLine(_ r: InspectionResult, load: Double, mask: String?) -> String {
        let verdict = r.passed.map { $0 ? "PASS" : "FAIL" } ?? "----"
        var line = r.partID + "  " + verdict + String(format: "  score %.4f", r.score)
        if let threshold = r.threshold {
            line += (r.score < threshold ? " <  " : " >= ") + String(format: "%.4f", threshold)
        }
        let scores = [("rgb", r.rgbScore), ("normals", r.normalsScore)].compactMap { name, value in
            value.map { name + String(format: " %.4f", $0) }
        }
        if !scores.isEmpty { line += "  (" + scores.joined(separator: ", ") + ")" }
        let total = load + r.timings.values.reduce(0, +)
        line += String(format: "  %.2f s", total)
        if let mask { line += "  " + mask }
        return line
    }

    static func insertSuffix(_ id: String, into path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let stem = url.deletingPathExtension().lastPathComponent
        let ext = url.pathExtension.isEmpty ? "png" : url.pathExtension
        return url.deletingLastPathComponent().appendingPathComponent("\(stem)-\(id).\(ext)").path
    }

    static func writeHeatmap(_ r: InspectionResult, part: LoadedPart,
                             weights: (rgb: Double, normals: Double), to path: String) throws {
        // Without a threshold the scale is anchored at the part's own score (said in --help).
        guard let picture = try HeatmapPicture.render(r, part: part, rgbWeight: weights.rgb,
                                                      normalsWeight: weights.normals) else {
            throw CommandFailure("no view to draw the heatmap on")
        }
        try ImageWriter.writePNG(picture, path: path)
    }
}
