// Dataset: an Eyecandies-layout dataset, <root>/<Category>/{train,val,test_public}/data/: its
// categories, the parts of a split, and the ground-truth label of a test part.

import Foundation

public struct Dataset: Sendable {
    /// The splits of the Eyecandies layout, named as their folders.
    public enum Split: String, CaseIterable, Sendable {
        case train
        case val
        case testPublic = "test_public"
    }

    /// A test part and whether its mask marks any pixel as anomalous.
    public struct LabelledPart: Sendable, Equatable {
        public let part: PartViews
        public let isDefective: Bool
    }

    public let root: URL
    /// Subfolders of the root that hold at least one split's data folder, sorted.
    public let categories: [String]

    /// Opens a dataset root; errors if it cannot be listed.
    public init(root: URL) throws {
        self.root = root
        categories = try PartFolder.fileNames(in: root.path).filter { name in
            !name.hasPrefix(".") && Split.allCases.contains { split in
                PartFolder.isFolder(Dataset.dataFolder(root: root, category: name, split: split)
                    .path)
            }
        }.sorted()
    }

    /// <root>/<category>/<split>/data.
    public func dataFolder(category: String, split: Split) -> URL {
        Dataset.dataFolder(root: root, category: category, split: split)
    }

    /// The parts of one category and split, sorted by id.
    public func parts(category: String, split: Split) throws -> [PartViews] {
        guard categories.contains(category) else {
            throw PartError.unknownCategory(root: root.path, category: category,
                                            available: categories)
        }
        let folder = dataFolder(category: category, split: split)
        guard PartFolder.isFolder(folder.path) else {
            throw PartError.missingSplit(path: folder.path)
        }
        return try PartFolder.parts(in: folder)
    }

    /// The test parts of a category with their labels, for evaluation: every part must have a
    /// mask (an error names the first one without).
    public func labelledTestParts(category: String) throws -> [LabelledPart] {
        try parts(category: category, split: .testPublic).map { part in
            LabelledPart(part: part, isDefective: try Dataset.isDefective(part))
        }
    }

    /// True iff the part's mask has any non-zero colour pixel (PIPELINE.md: any non-zero pixel
    /// is anomalous), read at the mask's own resolution. A part without a mask is an error here:
    /// evaluation needs the label; inspection does not call this.
    public static func isDefective(_ part: PartViews) throws -> Bool {
        guard let mask = part.mask else {
            throw PartError.missingMask(part: part.id, path: part.path(of: .mask))
        }
        return try ImageDecoder.decode(contentsOf: mask).hasNonZeroColor
    }

    private static func dataFolder(root: URL, category: String, split: Split) -> URL {
        root.appendingPathComponent(category).appendingPathComponent(split.rawValue)
            .appendingPathComponent("data")
    }
}
