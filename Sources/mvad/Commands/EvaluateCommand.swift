// `mvad evaluate`: the paper's metrics on a labelled test set, as a table or JSON.

import Foundation
import MVADEngine
import MVADInspect

enum EvaluateCommand: Command {
    static let name = "evaluate"
    static let summary = "image AUROC, pixel AUROC and AUPRO on a labelled test set"

    static let specs = [
        InspectSupport.modelOption,
        InspectSupport.bankOption,
        OptionSpec(name: "--dataset", value: "DIR",
                   help: "Eyecandies dataset (its test_public split), or a folder of parts with masks"),
        OptionSpec(name: "--category", value: "C", help: "dataset category (when there are several)"),
        OptionSpec(name: "--json", value: nil, help: "print one JSON object instead of the table"),
        InspectSupport.modalityOption,
        InspectSupport.threadsOption,
    ]

    static let help = helpText(
        usage: "mvad evaluate --model M [--bank BANK] --dataset DIR [--category C] [--json]",
        summary: summary, specs: specs, details: """
        Every test part needs its mask (any non-zero pixel = anomalous; a part is defective
        when its mask has one). Rows: RGB (lights), NMap (normal map) and RGB+NMap (fused),
        as in the paper; AUPRO is integrated up to a false-positive rate of 0.3 and divided
        by 0.3. With a `mvad synth` manifest.json next to the dataset, a second table gives
        the image AUROC per defect kind.
        """)

    static func run(_ arguments: [String]) throws {
        let args = try ParsedArguments(arguments, specs: specs, command: name)
        try args.noPositional()
        let modality = try InspectSupport.modality(args)
        let compute = Compute(threads: try args.int("--threads", range: 1...256))
        let modelPath = try args.required("--model")
        let banks = try InspectSupport.banks(args, modelPath: try args.required("--model"),
                                             command: name)
        _ = try args.required("--dataset")
        let model = try InspectSupport.loadModel(modelPath)
        let inspector = try Inspector(model: model, banks: banks, modality: modality, compute: compute)
        let dataset = try args.required("--dataset")
        let parts = try InspectSupport.parts(at: dataset, category: args.string("--category"),
                                             split: .testPublic)
        let progress = Progress(title: "evaluate", total: parts.count)
        var evaluated: [EvaluatedPart] = []
        for (i, views) in parts.enumerated() {
            let part = try PartLoader.load(views, size: model.settings.imageSize, modality: modality)
            guard let mask = part.mask else {
                throw CommandFailure("part \(views.id) has no mask (\(views.path(of: .mask))); "
                                     + "evaluation needs every test part's mask")
            }
            let defective = mask.scalars.contains { $0 > 0 }
            evaluated.append(EvaluatedPart(result: try inspector.inspect(part), mask: mask,
                                           isDefective: defective))
            progress.update(done: i + 1, item: views.id)
        }
        let defects = evaluated.filter(\.isDefective).count
        guard defects > 0, defects < evaluated.count else {
            throw CommandFailure("the test set needs both good and defective parts; it has "
                                 + "\(evaluated.count - defects) good and \(defects) defective")
        }
        let rows = try Evaluation.rows(evaluated)
        let kinds = defectKinds(dataset: dataset, category: args.string("--category"))
        let kindRows = try Evaluation.rowsByKind(evaluated, kinds: kinds)
        let label = args.string("--category") ?? URL(fileURLWithPath: dataset).lastPathComponent
        if args.has("--json") {
            print(json(rows, kindRows, label: label, parts: evaluated, kinds: kinds))
        } else {
            print(table(rows, label: label, good: evaluated.count - defects, defective: defects))
            if !kindRows.isEmpty { print(kindTable(kindRows)) }
        }
    }

    /// Defect kinds of the test parts (part id -> kinds) from a `mvad synth` manifest.json
    /// next to the dataset: in the folder given, its category folder, or two levels above a
    /// `test_public/data` folder. Empty when there is none (Eyecandies has none).
    static func defectKinds(dataset: String, category: String?) -> [String: [String]] {
        let root = URL(fileURLWithPath: dataset)
        var candidates = [root, root.deletingLastPathComponent().deletingLastPathComponent()]
        if let category { candidates.insert(root.appendingPathComponent(category), at: 1) }
        let subfolders = (try? FileManager.default.contentsOfDirectory(atPath: dataset)) ?? []
        candidates += subfolders.sorted().map { root.appendingPathComponent($0) }
        for folder in candidates {
            let url = folder.appendingPathComponent("manifest.json")
            guard let data = try? Data(contentsOf: url),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let parts = object["parts"] as? [[String: Any]] else { continue }
            var kinds: [String: [String]] = [:]
            for part in parts where (part["split"] as? String) == "test_public" {
                if let id = part["id"] as? String, let list = part["defect_kinds"] as? [String],
                   !list.isEmpty {
                    kinds[id] = list
                }
            }
            return kinds
        }
        return [:]
    }

    static func kindTable(_ rows: [DefectKindRow]) -> String {
        let names = ["RGB", "NMap", "RGB+NMap"].filter { name in
            rows.contains { $0.imageAUROC[name] != nil }
        }
        var lines = ["image AUROC per defect kind (its parts against every good part)",
                     "kind            parts" + names.map { $0.leftPadded(10) }.joined()]
        for row in rows {
            lines.append(row.kind.padding(toLength: 14, withPad: " ", startingAt: 0)
                         + "\(row.count)".leftPadded(7)
                         + names.map { name in
                             row.imageAUROC[name].map { String(format: "%10.3f", $0) }
                                 ?? "-".leftPadded(10)
                         }.joined())
        }
        return lines.joined(separator: "\n")
    }

    static func table(_ rows: [EvaluationRow], label: String, good: Int, defective: Int) -> String {
        var lines = ["\(label): \(good) good, \(defective) defective parts",
                     "modality    image AUROC   pixel AUROC   AUPRO@0.3"]
        for r in rows {
            lines.append(r.name.padding(toLength: 12, withPad: " ", startingAt: 0)
                         + String(format: "%11.3f   %11.3f   %9.3f", r.imageAUROC, r.pixelAUROC, r.aupro))
        }
        return lines.joined(separator: "\n")
    }

    static func json(_ rows: [EvaluationRow], _ kindRows: [DefectKindRow], label: String,
                     parts: [EvaluatedPart], kinds: [String: [String]]) -> String {
        let object: [String: Any] = [
            "dataset": label,
            "rows": rows.map { ["modality": $0.name, "image_auroc": $0.imageAUROC,
                                "pixel_auroc": $0.pixelAUROC, "aupro": $0.aupro] },
            "defect_kinds": kindRows.map { ["kind": $0.kind, "parts": $0.count,
                                            "image_auroc": $0.imageAUROC] as [String: Any] },
            "parts": parts.map { p -> [String: Any] in
                ["part": p.result.partID, "defective": p.isDefective, "score": p.result.score,
                 "rgb_score": p.result.rgbScore ?? NSNull(),
                 "normals_score": p.result.normalsScore ?? NSNull(),
                 "defect_kinds": kinds[p.result.partID] ?? []]
            },
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
