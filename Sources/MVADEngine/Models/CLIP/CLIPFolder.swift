// Finding a CLIP text encoder and its tokenizer in a local folder: an SD pipeline root
// (text_encoder/ + tokenizer/) or one folder holding both, as tools/reference/export_prompt.py.

import Foundation

/// The text encoder and tokenizer folders under a CLIP folder, and the encoder's weights.
public struct CLIPFolder: Sendable, Equatable {
    /// Where the encoder's safetensors weights are.
    public enum Weights: Sendable, Equatable {
        case single(path: String)
        case sharded(indexPath: String)
    }

    /// The folder as given.
    public let root: String
    /// `root/text_encoder` or `root`.
    public let encoderFolder: String
    /// `root/tokenizer` or `root`.
    public let tokenizerFolder: String
    public let weights: Weights

    static let encoderSubfolder = "text_encoder"
    static let tokenizerSubfolder = "tokenizer"
    /// Weight files in transformers' order of preference: float32 (or any dtype) first, then
    /// the half-precision "fp16" variant of SD pipelines.
    static let weightFiles: [(name: String, sharded: Bool)] = [
        ("model.safetensors", false), ("model.safetensors.index.json", true),
        ("model.fp16.safetensors", false), ("model.safetensors.index.fp16.json", true),
    ]
    static let pickledSuffixes = [".bin", ".ckpt", ".pt", ".pth"]

    /// Locates both halves under `root`; every problem is reported before any weight is read.
    public init(_ root: String) throws {
        self.root = root
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory) else {
            throw CLIPFolderError.notFound(path: root)
        }
        guard isDirectory.boolValue else { throw CLIPFolderError.notAFolder(path: root) }

        let encoderSub = Self.join(root, Self.encoderSubfolder)
        let tokenizerSub = Self.join(root, Self.tokenizerSubfolder)
        encoderFolder = Self.isFolder(encoderSub) ? encoderSub : root
        tokenizerFolder = Self.isFolder(tokenizerSub) ? tokenizerSub : root
        if encoderFolder == root, Self.isFolder(tokenizerSub),
           !Self.isFile(Self.join(root, "config.json")) {
            throw CLIPFolderError.tokenizerWithoutEncoder(folder: root)
        }
        try Self.checkModelType(encoderFolder)
        weights = try Self.locateWeights(encoderFolder)

        let tokenizerFiles = ["tokenizer.json", "vocab.json", "merges.txt"]
            .map { Self.isFile(Self.join(tokenizerFolder, $0)) }
        guard tokenizerFiles[0] || (tokenizerFiles[1] && tokenizerFiles[2]) else {
            throw CLIPFolderError.noTokenizer(folder: tokenizerFolder)
        }
    }

    /// The encoder's config.json must name a CLIP text model.
    private static func checkModelType(_ folder: String) throws {
        let path = join(folder, "config.json")
        guard isFile(path) else { throw CLIPFolderError.noConfig(folder: folder) }
        let file = try WeightStore.readConfig(CLIPConfigFile.self, folder: folder)
        guard let type = file.modelType, CLIPConfigFile.textModelTypes.contains(type) else {
            throw CLIPFolderError.notCLIP(path: path, modelType: file.modelType)
        }
    }

    private static func locateWeights(_ folder: String) throws -> Weights {
        for (name, sharded) in weightFiles where isFile(join(folder, name)) {
            let path = join(folder, name)
            return sharded ? .sharded(indexPath: path) : .single(path: path)
        }
        let contents = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .sorted()
        let pickled = contents.filter { name in pickledSuffixes.contains { name.hasSuffix($0) } }
        if !pickled.isEmpty {
            throw CLIPFolderError.pickledWeights(folder: folder, files: pickled)
        }
        throw CLIPFolderError.noWeights(folder: folder, found: Array(contents.prefix(10)))
    }

    /// The text encoder, with config.json read and every weight shape checked.
    public func textModel() throws -> CLIPTextModel {
        let file = try WeightStore.readConfig(CLIPConfigFile.self, folder: encoderFolder)
        let config = file.modelType == "clip"
            ? (file.textConfig ?? CLIPTextConfig())
            : try WeightStore.readConfig(CLIPTextConfig.self, folder: encoderFolder)
        let store = try openWeights()
        return try CLIPTextModel(config: config, weights: store)
    }

    /// The tokenizer.
    public func tokenizer() throws -> CLIPTokenizer {
        try CLIPTokenizer(folder: tokenizerFolder)
    }

    private func openWeights() throws -> WeightStore {
        switch weights {
        case let .single(path): return try WeightStore(files: [path])
        case let .sharded(indexPath): return try WeightStore(shardIndex: indexPath)
        }
    }

    static func join(_ folder: String, _ name: String) -> String {
        folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }

    private static func isFolder(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            && isDirectory.boolValue
    }

    private static func isFile(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            && !isDirectory.boolValue
    }
}

/// Why a folder does not hold a usable CLIP text encoder and tokenizer.
public enum CLIPFolderError: Error, CustomStringConvertible, Equatable {
    case notFound(path: String)
    case notAFolder(path: String)
    case tokenizerWithoutEncoder(folder: String)
    case noConfig(folder: String)
    case notCLIP(path: String, modelType: String?)
    case pickledWeights(folder: String, files: [String])
    case noWeights(folder: String, found: [String])
    case noTokenizer(folder: String)
    case noMaxLength(folder: String, positions: Int)
    case maxLengthExceedsPositions(folder: String, maxLength: Int, positions: Int)

    static let expectedEncoder = "expected a CLIP text encoder (config.json + model.safetensors) "
        + "in text_encoder/ (SD pipeline root) or directly in the folder"

    public var description: String {
        switch self {
        case let .notFound(path):
            return "\(path): no such folder; expected an SD pipeline root with text_encoder/ and "
                + "tokenizer/, or a folder holding a CLIP text encoder and tokenizer."
        case let .notAFolder(path):
            return "\(path): not a folder; expected an SD pipeline root or a CLIP folder."
        case let .tokenizerWithoutEncoder(folder):
            return "\(folder): has tokenizer/ but no text_encoder/; \(Self.expectedEncoder)."
        case let .noConfig(folder):
            return "\(folder): no config.json; \(Self.expectedEncoder)."
        case let .notCLIP(path, modelType):
            return "\(path): model_type is \(modelType.map { "\"\($0)\"" } ?? "missing"), not a "
                + "CLIP text model (\"clip_text_model\" or \"clip\"); \(Self.expectedEncoder)."
        case let .pickledWeights(folder, files):
            return "\(folder): only pickled weights (\(files.joined(separator: ", "))); mvad "
                + "refuses pickles because loading them can run arbitrary code: provide "
                + "model.safetensors (safetensors) instead, e.g. "
                + "CLIPTextModel.from_pretrained(folder).save_pretrained(folder, "
                + "safe_serialization=True)."
        case let .noWeights(folder, found):
            let listing = found.isEmpty
                ? "it is empty" : "it holds " + found.joined(separator: ", ")
            return "\(folder): no model.safetensors or model.safetensors.index.json (\(listing)); "
                + "\(Self.expectedEncoder)."
        case let .noTokenizer(folder):
            return "\(folder): no CLIP tokenizer; expected vocab.json + merges.txt (or "
                + "tokenizer.json) in tokenizer/ (pipeline root) or directly in the folder."
        case let .noMaxLength(folder, positions):
            return "\(folder): tokenizer_config.json declares no model_max_length; set it to the "
                + "text encoder's \(positions) positions (77 for SD)."
        case let .maxLengthExceedsPositions(folder, maxLength, positions):
            return "\(folder): model_max_length is \(maxLength) but the text encoder has "
                + "\(positions) positions; set model_max_length in tokenizer_config.json."
        }
    }
}
