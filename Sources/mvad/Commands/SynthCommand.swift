// `mvad synth`: writes a deterministic synthetic category of multi-light parts (good and
// defective, with exact masks) in the Eyecandies layout; docs/SYNTH.md describes the files.

import Foundation
import MVADInspect
import MVADSynth

enum SynthCommand: Command {
    static let name = "synth"
    static let summary = "generate synthetic multi-light parts with exact defect masks"

    static let specs = [
        OptionSpec(name: "-o", value: "OUT", help: "dataset root; the category goes to OUT/<Category>"),
        OptionSpec(name: "--category", value: "NAME",
                   help: "category (product) name; it fixes the product's look (default SynthCandy)"),
        OptionSpec(name: "--seed", value: "S", help: "master seed, 0...2^64-1 (default 1)"),
        OptionSpec(name: "--train", value: "N", help: "good training parts (default 10)"),
        OptionSpec(name: "--val", value: "N", help: "good validation parts (default 4)"),
        OptionSpec(name: "--test", value: "N",
                   help: "test_public parts, even ids good, odd ids defective (default 10)"),
        OptionSpec(name: "--size", value: "PX", help: "image width and height, >= 32 (default 256)"),
        OptionSpec(name: "--kinds", value: "LIST",
                   help: "defect kinds to cycle, comma-separated (default all: "
                       + DefectKind.allCases.map(\.rawValue).joined(separator: ",") + ")"),
        OptionSpec(name: "--lambertian", value: nil,
                   help: "no specular, no sensor noise, no light gain noise (for photometric stereo)"),
        OptionSpec(name: "--specular", value: "K", help: "Blinn-Phong weight (default 0.25)"),
        OptionSpec(name: "--noise", value: "DN", help: "sensor noise sd in 8-bit steps (default 1)"),
        OptionSpec(name: "--elevation", value: "DEG", help: "light elevation in degrees (default 45)"),
        OptionSpec(name: "--variation", value: "V",
                   help: "spread of good parts around the product, 0...3 (default 1)"),
        OptionSpec(name: "--force", value: nil,
                   help: "replace the splits and JSON files of an existing, non-empty category"),
    ]

    static let help = helpText(
        usage: "mvad synth -o OUT [--category NAME] [--seed S] [--train N --val N --test N]",
        summary: summary, specs: specs, details: """
        Writes OUT/<Category>/{train,val,test_public}/data/NNN_image_0..5.png (five single
        lights and all-on, linear 8-bit), NNN_normals.png, NNN_depth.png (16-bit) and, in
        test_public, NNN_mask.png (255 = defect), plus lights.json (the image formation) and
        manifest.json (every part's seed, label and defect). The same seed and options give
        byte-identical files; growing a split leaves its earlier parts unchanged.
        """)

    static func run(_ arguments: [String]) throws {
        let args = try ParsedArguments(arguments, specs: specs, command: name)
        try args.noPositional()
        let output = try args.required("-o")
        let dataset: SynthDataset
        let counts = SplitCounts(train: try args.int("--train", default: 10) ?? 10,
                                 val: try args.int("--val", default: 4) ?? 4,
                                 test: try args.int("--test", default: 10) ?? 10)
        do {
            try counts.validate()
            let kinds = try args.string("--kinds").map(DefectKind.parseList) ?? DefectKind.allCases
            dataset = try SynthDataset(category: args.string("--category") ?? "SynthCandy",
                                       masterSeed: try seed(args), settings: try settings(args),
                                       kinds: kinds)
        } catch let error as SynthError {
            throw UsageError(message: "\(name): \(error)")
        }

        let start = ContinuousClock.now
        let manifest = try dataset.write(to: URL(fileURLWithPath: output), counts: counts,
                                         overwrite: args.has("--force")) { summary in
            print(line(summary))
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds)
            + Double(elapsed.components.attoseconds) * 1e-18
        print(String(format: "%d parts of %@ (%d px, seed %@) in %.2f s, %.3f s per part; "
                     + "lights.json and manifest.json in %@", manifest.parts.count,
                     dataset.category, dataset.settings.size, String(dataset.masterSeed),
                     seconds, seconds / Double(max(1, manifest.parts.count)),
                     URL(fileURLWithPath: output).appendingPathComponent(dataset.category).path))
    }

    static func settings(_ args: ParsedArguments) throws -> SynthSettings {
        var settings = args.has("--lambertian") ? SynthSettings.lambertian() : SynthSettings()
        settings.size = try args.int("--size", default: 256) ?? 256
        if let specular = try args.float("--specular") { settings.specular = Double(specular) }
        if let noise = try args.float("--noise") { settings.sensorNoise = Double(noise) / 255 }
        if let elevation = try args.float("--elevation") {
            settings.lightElevationDegrees = Double(elevation)
        }
        if let variation = try args.float("--variation") { settings.variation = Double(variation) }
        try settings.validate()
        return settings
    }

    static func seed(_ args: ParsedArguments) throws -> UInt64 {
        guard let text = args.string("--seed") else { return 1 }
        let value = text.lowercased().hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16)
                                                       : UInt64(text)
        guard let value else {
            throw UsageError(message: "\(name): --seed must be a whole number in 0...2^64-1 "
                             + "(decimal or 0x hex), got '\(text)'")
        }
        return value
    }

    static func line(_ s: SplitSummary) -> String {
        let defects = DefectKind.allCases.compactMap { kind in
            s.defects[kind].map { "\(kind.rawValue) \($0)" }
        }
        let detail = defects.isEmpty ? "" : ", defective: " + defects.joined(separator: ", ")
        return String(format: "%@: %d parts (%d good%@) in %.2f s -> %@", s.split.rawValue,
                      s.parts, s.good, detail, s.seconds, s.folder)
    }
}
