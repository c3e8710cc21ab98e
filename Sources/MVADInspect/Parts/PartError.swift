// PartError: problems with part folders and datasets (missing or ambiguous views, views of
// different sizes, unknown categories), as sentences naming the files and what was expected.

/// Errors of part listing and loading. Image decoding errors are thrown as `ImageError`, which
/// names the file.
public enum PartError: Error, Equatable, Sendable {
    /// A folder could not be listed; `reason` is the system's text.
    case unreadableFolder(path: String, reason: String)
    /// Two files hold the same view of a part (e.g. 000_image_0.png and 000_image_0.jpg).
    case ambiguousView(part: String, files: [String])
    /// One folder mixes plain names (image_0.png) and Eyecandies names (000_image_0.png).
    case mixedNaming(folder: String, plainFile: String, eyecandiesFile: String)
    /// Views the modality needs have no file; `paths` are where they were looked for.
    case missingViews(part: String, modality: Modality, paths: [String])
    /// A view's size differs from the first view read.
    case sizeMismatch(file: String, width: Int, height: Int, referenceFile: String,
                      referenceWidth: Int, referenceHeight: Int)
    /// Evaluation needs the ground-truth mask of a test part, and it has none.
    case missingMask(part: String, path: String)
    /// The dataset has no such category.
    case unknownCategory(root: String, category: String, available: [String])
    /// A dataset split has no data folder.
    case missingSplit(path: String)
    /// The model size must be positive.
    case invalidSize(Int)
}

extension PartError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .unreadableFolder(let path, let reason):
            return "Cannot list part folder '\(path)': \(reason)."
        case .ambiguousView(let part, let files):
            return "Part \(part) has \(files.count) files for the same view: "
                + files.map { "'\($0)'" }.joined(separator: ", ")
                + "; expected exactly one. Remove or rename all but one of them."
        case .mixedNaming(let folder, let plain, let eyecandies):
            return "Folder '\(folder)' mixes plain view names ('\(plain)') and Eyecandies names "
                + "('\(eyecandies)'); expected one naming scheme per folder."
        case .missingViews(let part, let modality, let paths):
            return "Part \(part) lacks \(paths.count == 1 ? "a view" : "\(paths.count) views") "
                + "that modality '\(modality.rawValue)' needs: "
                + paths.map { "'\($0)'" }.joined(separator: ", ") + " not found."
        case .sizeMismatch(let file, let width, let height, let reference, let referenceWidth,
                           let referenceHeight):
            return "View '\(file)' is \(width) x \(height) pixels, but '\(reference)' of the same "
                + "part is \(referenceWidth) x \(referenceHeight); all views of a part must have "
                + "the same size."
        case .missingMask(let part, let path):
            return "Test part \(part) has no ground-truth mask ('\(path)' not found); evaluation "
                + "needs one per test part (inspection does not)."
        case .unknownCategory(let root, let category, let available):
            return "Dataset '\(root)' has no category '\(category)'; found: "
                + (available.isEmpty ? "none" : available.joined(separator: ", ")) + "."
        case .missingSplit(let path):
            return "Dataset split folder '\(path)' does not exist; expected the Eyecandies layout "
                + "<root>/<Category>/{train,val,test_public}/data."
        case .invalidSize(let size):
            return "The model image size must be a positive number of pixels, got \(size)."
        }
    }
}
