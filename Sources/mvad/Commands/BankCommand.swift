// `mvad bank build`: memory banks from good parts, written atomically to one file.

import Foundation
import MVADEngine
import MVADInspect

enum BankCommand: Command {
    static let name = "bank"
    static let summary = "build memory banks from good parts (mvad bank build ...)"

    static let specs = [
        InspectSupport.modelOption,
        OptionSpec(name: "--parts", value: "DIR",
                   help: "good parts: a folder of parts, or an Eyecandies dataset (its train split)"),
        OptionSpec(name: "--category", value: "C", help: "dataset category (when there are several)"),
        OptionSpec(name: "-o", value: "BANK", help: "bank file to write (safetensors)"),
        OptionSpec(name: "--coreset", value: "F",
                   help: "keep a greedy coreset of this fraction of each bank, 0 < F <= 1"),
        OptionSpec(name: "--threshold", value: "T",
                   help: "store this verdict threshold with the banks (provenance: bank build)"),
        OptionSpec(name: "--skip-bad", value: nil,
                   help: "leave out parts whose views fail to load (listed) instead of stopping"),
        InspectSupport.modalityOption,
        InspectSupport.threadsOption,
    ]

    static let help = helpText(
        usage: "mvad bank build --model M --parts DIR -o BANK [--modality both|rgb|normals]",
        summary: summary, specs: specs, details: """
        Every grid position of every part's feature map goes into the bank of its modality
        (RGB and/or normal map). The bank records the settings it was built with; inspecting
        with other settings is refused. The file is written to a temporary name and renamed,
        so an interrupted build never leaves a half-written bank.
        """)

    static func run(_ arguments: [String]) throws {
        var rest = arguments
        guard rest.first == "build" else {
            throw UsageError(message: "bank: expected 'mvad bank build ...' (see mvad bank --help)")
        }
        rest.removeFirst()
        let args = try ParsedArguments(rest, specs: specs, command: "bank build")
        try args.noPositional()
        let output = try args.required("-o")
        let modality = try InspectSupport.modality(args)
        var fraction: Double? = nil
        if let value = try args.float("--coreset") {
            guard value > 0, value <= 1 else {
                throw UsageError(message: "bank build: --coreset must be in (0, 1], got \(value)")
            }
            fraction = Double(value)
        }
        let threshold = try InspectSupport.threshold(args)
        let compute = Compute(threads: try args.int("--threads", range: 1...256))
        let modelPath = try args.required("--model")
        let partsPath = try args.required("--parts")
        try InspectSupport.checkWritable(output, what: "bank file")
        let model = try InspectSupport.loadModel(modelPath)
        let listed = try InspectSupport.parts(at: partsPath, category: args.string("--category"),
                                              split: .train)
        let (parts, bad) = InspectSupport.checkParts(listed, size: model.settings.imageSize,
                                                     modality: modality)
        if !bad.isEmpty {
            let lines = bad.map { "  part \($0.id): \($0.reason)" }.joined(separator: "\n")
            guard args.has("--skip-bad") else {
                throw CommandFailure("\(bad.count) of \(listed.count) parts cannot be used "
                                     + "(nothing was built; --skip-bad leaves them out):\n" + lines)
            }
            InspectSupport.log("leaving out \(bad.count) of \(listed.count) parts:\n" + lines)
        }
        guard !parts.isEmpty else { throw CommandFailure("no usable part in \(partsPath)") }
        var builder = try BankBuilder(model: model, modality: modality, compute: compute)
        let progress = Progress(title: "bank build", total: parts.count)
        for (i, views) in parts.enumerated() {
            let part = try PartLoader.load(views, size: model.settings.imageSize, modality: modality,
                                           includeMask: false)
            _ = try builder.add(part)
            progress.update(done: i + 1, item: views.id)
        }
        var file = try builder.bankFile(coresetFraction: fraction, provenance: [
            "built_by": "mvad \(MVADVersion.current) bank build",
            "parts": "\(parts.count)", "modality": modality.rawValue,
            "coreset_fraction": fraction.map { "\($0)" } ?? "1",
        ])
        if let threshold {
            file.threshold = threshold
            file.provenance["threshold_source"] = "given to mvad bank build"
        }
        try file.write(to: output)
        let sizes = file.banks.sorted { $0.key < $1.key }
            .map { "\($0.key.rawValue) \($0.value.count) x \($0.value.channels)" }
        print("wrote \(output): \(sizes.joined(separator: ", ")) from \(parts.count) parts")
    }
}
