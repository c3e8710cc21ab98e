// SynthDataset: a generated category in the Eyecandies layout: which seed and defect each part
// gets, and writing <root>/<Category>/{train,val,test_public}/data plus lights.json and
// manifest.json.

import Foundation
import MVADInspect

/// A synthetic category: settings, master seed and allowed defect kinds. Part k of a split has
/// the seed derive(master, split, k) and, in test_public, a defect iff k is odd, of kind
/// kinds[(k / 2) % kinds.count]; so growing a split never changes its earlier parts.
public struct SynthDataset: Sendable {
    public let category: String
    public let masterSeed: UInt64
    public let settings: SynthSettings
    public let kinds: [DefectKind]
    public let sampler: PartSampler
    public let renderer: PartRenderer

    /// Checks the settings, the category name (a single folder name) and the kinds.
    public init(category: String, masterSeed: UInt64, settings: SynthSettings,
                kinds: [DefectKind] = DefectKind.allCases) throws {
        try settings.validate()
        guard !category.isEmpty, category != ".", category != "..", !category.contains("/"),
              !category.hasPrefix(".") else {
            throw SynthError.invalidSetting(name: "category", value: "'\(category)'",
                                            expected: "a folder name without '/' that does not "
                                                + "start with '.'")
        }
        guard !kinds.isEmpty else { throw SynthError.noDefectKinds }
        self.category = category
        self.masterSeed = masterSeed
        self.settings = settings
        self.kinds = kinds
        sampler = PartSampler(style: ProductStyle(category: category), settings: settings)
        renderer = PartRenderer(settings: settings)
    }

    /// The seed of part `index` of `split`.
    public func partSeed(split: Dataset.Split, index: Int) -> UInt64 {
        precondition(index >= 0, "part index must be >= 0, got \(index)")
        return SynthRandom.derive(masterSeed, SynthDataset.splitCode(split), UInt64(index))
    }

    /// The defect of part `index` of `split`: nil for train, val and even test ids.
    public func defectKind(split: Dataset.Split, index: Int) -> DefectKind? {
        guard split == .testPublic, index % 2 == 1 else { return nil }
        return kinds[(index / 2) % kinds.count]
    }

    public func recipe(split: Dataset.Split, index: Int) -> PartRecipe {
        sampler.recipe(seed: partSeed(split: split, index: index),
                       defect: defectKind(split: split, index: index))
    }

    public func render(split: Dataset.Split, index: Int) -> RenderedPart {
        renderer.render(recipe(split: split, index: index))
    }

    /// The file prefix of part `index`: three digits at least, as Eyecandies ("007").
    public static func partID(_ index: Int) -> String {
        let digits = String(index)
        return String(repeating: "0", count: max(0, 3 - digits.count)) + digits
    }

    static func splitCode(_ split: Dataset.Split) -> UInt64 {
        switch split {
        case .train: return 1
        case .val: return 2
        case .testPublic: return 3
        }
    }

    /// Writes the category under `root`. A category folder that holds anything is refused
    /// unless `overwrite`, which first removes its split folders, lights.json and
    /// manifest.json (other files are left alone). `splitDone` is called after each split.
    @discardableResult
    public func write(to root: URL, counts: SplitCounts, overwrite: Bool = false,
                      splitDone: (SplitSummary) -> Void = { _ in }) throws -> SynthManifest {
        try counts.validate()
        let folder = root.appendingPathComponent(category)
        try prepare(folder, overwrite: overwrite)
        try writeJSON(LightsFile(settings: settings), to: folder.appendingPathComponent("lights.json"))

        var manifest = SynthManifest(
            category: category, masterSeed: masterSeed, settings: settings,
            product: sampler.style, defectKinds: kinds,
            counts: Dictionary(uniqueKeysWithValues: Dataset.Split.allCases.map {
                ($0.rawValue, counts.count($0))
            }), parts: [])
        for split in Dataset.Split.allCases where counts.count(split) > 0 {
            let start = ContinuousClock.now
            let data = folder.appendingPathComponent(split.rawValue).appendingPathComponent("data")
            try makeFolder(data)
            var summary = SplitSummary(split: split, folder: data.path, parts: 0, good: 0,
                                       defects: [:], seconds: 0)
            for index in 0..<counts.count(split) {
                let entry = try writePart(split: split, index: index, to: data)
                manifest.parts.append(entry)
                summary.parts += 1
                if let kind = entry.defectKinds.first {
                    summary.defects[kind, default: 0] += 1
                } else {
                    summary.good += 1
                }
            }
            let elapsed = ContinuousClock.now - start
            summary.seconds = Double(elapsed.components.seconds)
                + Double(elapsed.components.attoseconds) * 1e-18
            splitDone(summary)
        }
        try writeJSON(manifest, to: folder.appendingPathComponent("manifest.json"))
        return manifest
    }

    /// Renders part `index` and writes its views (and, in test_public, its mask).
    private func writePart(split: Dataset.Split, index: Int, to data: URL) throws -> ManifestPart {
        let part = render(split: split, index: index)
        let id = SynthDataset.partID(index)
        let png = { (name: String, image: Image) in
            (name, try ImageWriter.encodePNG(image, name: name, fast: true))
        }
        var files = try (0..<part.views.count).map { k in
            try png("\(id)_image_\(k).png", part.viewImage(k))
        }
        files.append(try png("\(id)_normals.png", part.normalImage))
        files.append(("\(id)_depth.png", try ImageWriter.encodePNG16(
            part.depthImage, name: "\(id)_depth.png", fast: true)))
        if split == .testPublic {
            files.append(try png("\(id)_mask.png", part.maskImage))
        }
        for (name, bytes) in files {
            try writeFile(Data(bytes), to: data.appendingPathComponent(name))
        }
        return ManifestPart(split: split.rawValue, id: id, seed: part.recipe.seed,
                            label: part.recipe.defects.isEmpty ? "good" : "defective",
                            defectKinds: part.recipe.defects.map(\.kind),
                            maskPixels: split == .testPublic ? part.maskPixelCount : nil,
                            recipe: part.recipe)
    }
}
