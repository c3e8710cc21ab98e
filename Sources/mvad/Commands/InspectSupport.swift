// What the inspection commands share: loading the model, finding parts, and progress on the
// terminal (a bar) or in logs (plain lines).

import Foundation
import MVADEngine
import MVADInspect
import MVADPack

enum InspectSupport {
    static let modalityOption = OptionSpec(
        name: "--modality", value: "M",
        help: "both (lights + normal map, default) | rgb (lights only) | normals (normal map only)")
    static let threadsOption = OptionSpec(name: "--threads", value: "N",
                                          help: "worker threads (default: all cores)")
    static let modelOption = OptionSpec(name: "--model", value: "M",
                                        help: "model: a .mvad pack, or a folder (unet/, vae/, ...)")
    static let bankOption = OptionSpec(name: "--bank", value: "BANK",
                                       help: "bank file from mvad bank build (default: the "
                                           + "banks stored in the --model pack)")

    /// The banks: the --bank file, else those stored in the --model pack (mvad convert --bank).
    static func banks(_ args: ParsedArguments, modelPath: String, command: String) throws -> BankFile {
        if let path = args.string("--bank") { return try BankFile(path: path) }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: modelPath, isDirectory: &isFolder),
           !isFolder.boolValue {
            let pack = try PackFile(path: modelPath)
            if BankFile.isStored(in: pack) { return try BankFile(pack: pack) }
        }
        throw UsageError(message: "\(command): needs --bank BANK; \(modelPath) holds no banks "
                         + "(store them with mvad convert --bank)")
    }

    /// The bank file's threshold and where it came from, in one line: the value, then for a
    /// calibrated threshold the strategy, date, part counts and error counts.
    static func thresholdSummary(_ banks: BankFile) -> String {
        guard let threshold = banks.threshold else { return "none stored" }
        var text = String(format: "%.6g", threshold)
        let p = banks.provenance
        guard let strategy = p["calibration.strategy"] else {
            return text + " (" + (p["threshold_source"] ?? "set when the bank was built") + ")"
        }
        text += " (mvad calibrate, \(strategy), \(p["calibration.calibration_date"] ?? "undated"); "
            + "\(p["calibration.good_count"] ?? "?") good parts, \(p["calibration.bad_count"] ?? "0")"
            + " bad; false rejects \(p["calibration.false_rejects"] ?? "?"), false accepts "
            + "\(p["calibration.false_accepts"] ?? "?"))"
        return text
    }

    static func modality(_ args: ParsedArguments) throws -> Modality {
        let value = try args.choice("--modality", from: Modality.allCases.map(\.rawValue),
                                    default: "both") ?? "both"
        return Modality(rawValue: value) ?? .both
    }

    /// --threshold, which must be a number > 0 when given.
    static func threshold(_ args: ParsedArguments) throws -> Double? {
        guard let value = try args.float("--threshold") else { return nil }
        guard value > 0 else {
            throw UsageError(message: "\(args.command): --threshold must be > 0, got \(value)")
        }
        return Double(value)
    }

    /// A .mvad pack (mvad convert), or a model folder (unet/, vae/, controlnet/ or
    /// controllora/, prompt_embedding.safetensors, settings.json).
    static func loadModel(_ path: String) throws -> InspectionModel {
        log("loading model \(path)")
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue {
            return try InspectionModel.load(pack: path)
        }
        return try InspectionModel.load(folder: path)
    }

    /// The parts under `path`: a folder of parts, one part folder, or an Eyecandies dataset
    /// (root or category folder) whose `split` is used.
    static func parts(at path: String, category: String?, split: Dataset.Split) throws -> [PartViews] {
        let url = URL(fileURLWithPath: path)
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else {
            throw CommandFailure("\(path) is not a folder of parts")
        }
        let splitFolder = url.appendingPathComponent(split.rawValue).appendingPathComponent("data")
        if FileManager.default.fileExists(atPath: splitFolder.path) {
            log("\(path): taking the \(split.rawValue) split (\(splitFolder.path))")
            return try PartFolder.parts(in: splitFolder)             // a category folder
        }
        if let dataset = try? Dataset(root: url), !dataset.categories.isEmpty {
            let only = dataset.categories.count == 1 ? dataset.categories[0] : nil
            guard let category = category ?? only else {
                throw CommandFailure("\(path) holds several categories "
                    + "(\(dataset.categories.joined(separator: ", "))); choose one with --category")
            }
            log("\(path): taking category \(category), \(split.rawValue) split")
            return try dataset.parts(category: category, split: split)
        }
        if let category {
            throw CommandFailure("--category \(category) was given, but \(path) is not an "
                                 + "Eyecandies dataset (<root>/<Category>/\(split.rawValue)/data)")
        }
        let found = try PartFolder.parts(in: url)
        guard !found.isEmpty else {
            throw CommandFailure("\(path) holds no part (expected NNN_image_0..5 + NNN_normals "
                                 + "files, image_0..5 + normals files, or an Eyecandies dataset)")
        }
        return found
    }

    /// Fails now, before any model work, if `path` cannot be written later.
    static func checkWritable(_ path: String, what: String) throws {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            throw CommandFailure("\(what) \(path) is a folder; give a file name")
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder),
              isFolder.boolValue else {
            throw CommandFailure("\(what) \(path): the folder \(folder) does not exist")
        }
        guard access(folder, W_OK) == 0 else {
            throw CommandFailure("\(what) \(path): the folder \(folder) is not writable")
        }
    }

    /// Decodes every part's views once, before any model work, so that a bad file is reported
    /// at once rather than after hours. Returns the parts that loaded and, per bad part, why.
    static func checkParts(_ parts: [PartViews], size: Int, modality: Modality)
        -> (good: [PartViews], bad: [(id: String, reason: String)]) {
        var good: [PartViews] = []
        var bad: [(id: String, reason: String)] = []
        for views in parts {
            do {
                _ = try PartLoader.load(views, size: size, modality: modality, includeMask: false)
                good.append(views)
            } catch {
                bad.append((views.id, "\(error)"))
            }
        }
        return (good, bad)
    }

    static func log(_ message: String) {
        FileHandle.standardError.write(Data(("mvad: " + message + "\n").utf8))
    }
}

/// A failure the command explains in one sentence (exit status 1).
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Progress of a long command: a redrawn bar on a terminal, plain lines otherwise.
struct Progress {
    let title: String
    let total: Int
    private let terminal = isatty(2) != 0
    private let started = DispatchTime.now().uptimeNanoseconds

    init(title: String, total: Int) {
        self.title = title
        self.total = total
    }

    func update(done: Int, item: String) {
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let rate = done > 0 ? elapsed / Double(done) : 0
        let remaining = rate * Double(total - done)
        if terminal {
            let width = 30
            let filled = total > 0 ? width * done / total : width
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            let text = String(format: "\r%@ [%@] %d/%d %@  %.1f s/part, %.0f s left ",
                              title, bar, done, total, item, rate, remaining)
            FileHandle.standardError.write(Data(text.utf8))
            if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
        } else {
            InspectSupport.log(String(format: "%@: %d/%d parts (%@), %.1f s/part", title, done, total,
                                      item, rate))
        }
    }
}
