// WeightStore: the weights of one diffusers model folder (a single safetensors file, a variant,
// or an index over shards) or of a plain list of safetensors files, looked up by checkpoint key.

import Foundation

/// Named tensors spread over one or more safetensors files, each name in exactly one file.
/// Opening validates every file; reading a tensor copies it out of its file's mapping.
public final class WeightStore: @unchecked Sendable {
    /// Where the weights came from (the folder, or the files), used in messages.
    public let source: String
    /// Every tensor name the store serves, sorted.
    public let names: [String]

    private let files: [SafeTensorsFile]
    private let fileIndexOfTensor: [String: Int]

    /// Weight file names diffusers writes, in the order they are looked for.
    static let weightsName = "diffusion_pytorch_model"
    /// Suffixes of pickled PyTorch checkpoints, which are never loaded.
    static let pickledSuffixes = [".bin", ".ckpt", ".pt", ".pth"]

    /// Opens the weights of a diffusers model folder (such as `unet/` or `controlnet/`).
    ///
    /// Looks for `diffusion_pytorch_model.safetensors`, then the sharded index
    /// `diffusion_pytorch_model.safetensors.index.json`; with a `variant` such as "fp16", for
    /// `diffusion_pytorch_model.fp16.safetensors` and `...safetensors.index.fp16.json` instead.
    /// Without a variant, a folder holding only the fp16 variant is read as that variant.
    public convenience init(folder: String, variant: String? = nil) throws {
        switch try Self.locateWeights(folder: folder, variant: variant) {
        case let .single(path):
            let file = try SafeTensorsFile(path: path)
            let owners = Dictionary(uniqueKeysWithValues: file.names.map { ($0, 0) })
            self.init(source: folder, files: [file], fileIndexOfTensor: owners)
        case let .sharded(indexPath):
            let (files, owners) = try Self.openShards(indexPath: indexPath, folder: folder)
            self.init(source: folder, files: files, fileIndexOfTensor: owners)
        }
    }

    /// Opens the shards a safetensors index (`{"weight_map": {tensor: shard file}}`) names, in
    /// the index's folder, whatever the files are called (transformers writes
    /// `model.safetensors.index.json` and `model-00001-of-00002.safetensors`).
    public convenience init(shardIndex indexPath: String) throws {
        let folder = (indexPath as NSString).deletingLastPathComponent
        let (files, owners) = try Self.openShards(indexPath: indexPath,
                                                  folder: folder.isEmpty ? "." : folder)
        self.init(source: indexPath, files: files, fileIndexOfTensor: owners)
    }

    /// Opens a plain list of safetensors files; a name found in two of them is an error.
    public convenience init(files paths: [String]) throws {
        var files: [SafeTensorsFile] = []
        var owners: [String: Int] = [:]
        for path in paths {
            let file = try SafeTensorsFile(path: path)
            for name in file.names {
                if let first = owners[name] {
                    throw WeightStoreError.duplicateTensor(
                        tensor: name, firstFile: files[first].path, secondFile: path)
                }
                owners[name] = files.count
            }
            files.append(file)
        }
        let source = paths.count <= 1
            ? (paths.first ?? "an empty file list")
            : "\(paths[0]) and \(paths.count - 1) more files"
        self.init(source: source, files: files, fileIndexOfTensor: owners)
    }

    private init(source: String, files: [SafeTensorsFile], fileIndexOfTensor: [String: Int]) {
        self.source = source
        self.files = files
        self.fileIndexOfTensor = fileIndexOfTensor
        self.names = fileIndexOfTensor.keys.sorted()
    }

    /// Paths of the safetensors files the store reads.
    public var filePaths: [String] { files.map(\.path) }

    /// Whether the store has a tensor named `name`.
    public func contains(_ name: String) -> Bool { fileIndexOfTensor[name] != nil }

    /// The header entry of `name` (dtype, shape, bytes), or nil when absent.
    public func info(_ name: String) -> SafeTensorsFile.Entry? {
        guard let index = fileIndexOfTensor[name] else { return nil }
        return files[index].info(name)
    }

    /// The stored shape of `name`, or nil when absent; reads no tensor data.
    public func shape(_ name: String) -> [Int]? { info(name)?.shape }

    /// The tensor `name`, widened to Float32. Throws `tensorNotFound` with close names.
    public func tensor(_ name: String) throws -> Tensor {
        guard let index = fileIndexOfTensor[name] else {
            throw WeightStoreError.tensorNotFound(
                source: source, tensor: name,
                closeNames: SafeTensorsError.closeNames(to: name, among: fileIndexOfTensor.keys))
        }
        return try files[index].tensor(name)
    }
}

// MARK: - Finding the weights in a folder

extension WeightStore {
    enum WeightsLayout: Equatable {
        case single(path: String)
        case sharded(indexPath: String)
    }

    /// Which weight file or index of `folder` to read; see `init(folder:variant:)`.
    static func locateWeights(folder: String, variant: String?) throws -> WeightsLayout {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory),
              isDirectory.boolValue
        else {
            throw WeightStoreError.folderNotFound(folder: folder)
        }

        let variants = variant.map { [$0] } ?? [nil, "fp16"]
        for candidate in variants {
            let single = join(folder, weightsFileName(variant: candidate))
            if isFile(single) { return .single(path: single) }
            let index = join(folder, indexFileName(variant: candidate))
            if isFile(index) { return .sharded(indexPath: index) }
        }

        let contents = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .sorted()
        let otherWeights = contents.filter {
            $0.hasPrefix(weightsName) && ($0.hasSuffix(".safetensors") || $0.hasSuffix(".json"))
        }
        if let variant, !otherWeights.isEmpty {
            throw WeightStoreError.variantNotFound(
                folder: folder, variant: variant, available: otherWeights)
        }
        let pickled = contents.filter { name in pickledSuffixes.contains { name.hasSuffix($0) } }
        if !pickled.isEmpty {
            throw WeightStoreError.pickledCheckpointRefused(folder: folder, files: pickled)
        }
        throw WeightStoreError.noWeights(folder: folder, found: Array(contents.prefix(10)))
    }

    static func weightsFileName(variant: String?) -> String {
        variant.map { "\(weightsName).\($0).safetensors" } ?? "\(weightsName).safetensors"
    }

    static func indexFileName(variant: String?) -> String {
        let base = "\(weightsName).safetensors.index"
        return variant.map { "\(base).\($0).json" } ?? "\(base).json"
    }

    static func join(_ folder: String, _ name: String) -> String {
        folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }

    private static func isFile(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            && !isDirectory.boolValue
    }
}

// MARK: - Sharded checkpoints

extension WeightStore {
    /// Opens the shards named by a diffusers index (`{"metadata": ..., "weight_map": {...}}`)
    /// and checks that every mapped tensor is in the shard the index names.
    static func openShards(
        indexPath: String, folder: String
    ) throws -> (files: [SafeTensorsFile], owners: [String: Int]) {
        let weightMap = try readWeightMap(indexPath: indexPath)
        var files: [SafeTensorsFile] = []
        var fileIndexOfShard: [String: Int] = [:]
        var owners: [String: Int] = [:]
        for (name, shard) in weightMap.sorted(by: { $0.key < $1.key }) {
            if fileIndexOfShard[shard] == nil {
                let path = join(folder, shard)
                guard isFile(path) else {
                    throw WeightStoreError.shardNotFound(
                        index: indexPath, shard: shard, tensor: name)
                }
                fileIndexOfShard[shard] = files.count
                files.append(try SafeTensorsFile(path: path))
            }
            guard let fileIndex = fileIndexOfShard[shard], files[fileIndex].info(name) != nil else {
                throw WeightStoreError.tensorNotInShard(
                    index: indexPath, tensor: name, shard: shard)
            }
            owners[name] = fileIndex
        }
        return (files, owners)
    }

    /// The `weight_map` of an index file: tensor name -> shard file name in the same folder.
    private static func readWeightMap(indexPath: String) throws -> [String: String] {
        let parsed: Any
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: indexPath))
            parsed = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw WeightStoreError.invalidIndex(
                path: indexPath, problem: "cannot be read as JSON (\(error.localizedDescription))")
        }
        guard let object = parsed as? [String: Any], let rawMap = object["weight_map"] else {
            throw WeightStoreError.invalidIndex(
                path: indexPath, problem: "has no \"weight_map\" object at the top level")
        }
        guard let weightMap = rawMap as? [String: String], !weightMap.isEmpty else {
            throw WeightStoreError.invalidIndex(
                path: indexPath,
                problem: "has a \"weight_map\" that is not a non-empty object of tensor names "
                    + "to shard file names")
        }
        for shard in Set(weightMap.values).sorted() where !isPlainFileName(shard) {
            throw WeightStoreError.invalidIndex(
                path: indexPath,
                problem: "names shard \"\(shard)\", which is not a file name in the same folder")
        }
        return weightMap
    }

    /// True for a bare file name: no folder separators, not "." or "..", not empty.
    private static func isPlainFileName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/")
    }
}

// MARK: - config.json

extension WeightStore {
    /// Decodes `folder/config.json` as `type`; a decoding error names the key path at fault.
    public static func readConfig<T: Decodable>(_ type: T.Type, folder: String) throws -> T {
        let path = join(folder, "config.json")
        guard isFile(path) else { throw WeightStoreError.configNotFound(path: path) }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw WeightStoreError.configUnreadable(path: path, reason: error.localizedDescription)
        }
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as DecodingError {
            let (keyPath, problem) = explain(error)
            throw WeightStoreError.invalidConfig(path: path, keyPath: keyPath, problem: problem)
        }
    }

    /// The key path (`down_block_types[2]`) and a plain description of a decoding error.
    static func explain(_ error: DecodingError) -> (keyPath: String, problem: String) {
        switch error {
        case let .keyNotFound(key, context):
            return (keyPath(context.codingPath + [key]), "is required but missing")
        case let .valueNotFound(type, context):
            return (keyPath(context.codingPath), "is null; expected a value of type \(type)")
        case let .typeMismatch(type, context):
            return (keyPath(context.codingPath), "has the wrong type; expected \(type)")
        case let .dataCorrupted(context):
            let detail = context.debugDescription
            return (keyPath(context.codingPath),
                    "is invalid: " + (detail.hasSuffix(".") ? String(detail.dropLast()) : detail))
        @unknown default:
            return ("", "could not be decoded: \(error)")
        }
    }

    /// `[a, b, 2, c]` -> "a.b[2].c"; the empty path is "(top level)".
    private static func keyPath(_ path: [any CodingKey]) -> String {
        var text = ""
        for key in path {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += (text.isEmpty ? "" : ".") + key.stringValue
            }
        }
        return text.isEmpty ? "(top level)" : text
    }
}

// MARK: - Errors

/// Why a model folder's weights or config could not be opened. Errors inside one safetensors
/// file are `SafeTensorsError`s and pass through unchanged.
public enum WeightStoreError: Error, Equatable, CustomStringConvertible {
    case folderNotFound(folder: String)
    case noWeights(folder: String, found: [String])
    case variantNotFound(folder: String, variant: String, available: [String])
    case pickledCheckpointRefused(folder: String, files: [String])
    case invalidIndex(path: String, problem: String)
    case shardNotFound(index: String, shard: String, tensor: String)
    case tensorNotInShard(index: String, tensor: String, shard: String)
    case duplicateTensor(tensor: String, firstFile: String, secondFile: String)
    case tensorNotFound(source: String, tensor: String, closeNames: [String])
    case configNotFound(path: String)
    case configUnreadable(path: String, reason: String)
    case invalidConfig(path: String, keyPath: String, problem: String)

    public var description: String {
        switch self {
        case let .folderNotFound(folder):
            return "\(folder): no such folder; expected a diffusers model folder."
        case let .noWeights(folder, found):
            let listing = found.isEmpty
                ? "it is empty" : "it holds " + found.joined(separator: ", ")
            return "\(folder): no \(WeightStore.weightsFileName(variant: nil)) or sharded index "
                + "found (\(listing))."
        case let .variantNotFound(folder, variant, available):
            let wanted = WeightStore.weightsFileName(variant: variant)
            return "\(folder): no '\(variant)' variant (\(wanted) or its index); the folder has "
                + "\(available.joined(separator: ", ")). "
                + "Pass another variant, or none."
        case let .pickledCheckpointRefused(folder, files):
            return "\(folder): only pickled PyTorch weights found "
                + "(\(files.joined(separator: ", "))); "
                + "pickled checkpoints are refused because loading them can run arbitrary code. "
                + "Re-save the model with safetensors: "
                + "model.save_pretrained(folder, safe_serialization=True)."
        case let .invalidIndex(path, problem):
            return "\(path): the shard index \(problem)."
        case let .shardNotFound(index, shard, tensor):
            return "\(index): shard '\(shard)' (holding tensor '\(tensor)') is not in the folder."
        case let .tensorNotInShard(index, tensor, shard):
            return "\(index): tensor '\(tensor)' is mapped to shard '\(shard)', which does not "
                + "contain it; the index and the shards do not match."
        case let .duplicateTensor(tensor, firstFile, secondFile):
            return "tensor '\(tensor)' is in both \(firstFile) and \(secondFile); expected each "
                + "name in exactly one file."
        case let .tensorNotFound(source, tensor, closeNames):
            let hint = closeNames.isEmpty
                ? "no similar names"
                : "close names: " + closeNames.map { "'\($0)'" }.joined(separator: ", ")
            return "\(source): no tensor named '\(tensor)' (\(hint))."
        case let .configNotFound(path):
            return "\(path): no such file; expected the model's config.json next to its weights."
        case let .configUnreadable(path, reason):
            return "\(path): cannot be read: \(reason)."
        case let .invalidConfig(path, keyPath, problem):
            return "\(path): \(keyPath) \(problem)."
        }
    }
}
