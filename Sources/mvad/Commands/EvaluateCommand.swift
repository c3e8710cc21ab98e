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
        by 0.3.
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
        let label = args.string("--category") ?? URL(fileURLWithPath: dataset).lastPathComponent
        if args.has("--json") {
            print(json(rows, label: label, parts: evaluated))
        } else {
            print(table(rows, label: label, good: evaluated.count - defects, defective: defects))
        }
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

    static func json(_ rows: [EvaluationRow], label: String, parts: [EvaluatedPart]) -> String {
        let object: [String: Any] = [
            "dataset": label,
            "rows": rows.map { ["modality": $0.name, "image_auroc": $0.imageAUROC,
                                "pixel_auroc": $0.pixelAUROC, "aupro": $0.aupro] },
            "parts": parts.map { p -> [String: Any] in
                ["part": p.result.partID, "defective": p.isDefective, "score": p.result.score,
                 "rgb_score": p.result.rgbScore ?? NSNull(),
                 "normals_score": p.result.normalsScore ?? NSNull()]
            },
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
