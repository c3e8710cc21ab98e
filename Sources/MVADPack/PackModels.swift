// PackModels: the model ports (UNet2DConditionModel, ControlNetModel, VAEEncoder) and the
// prompt embedding built from a pack written by PackConverter, configs read from its metadata.

import Foundation
import MVADEngine

/// A pack whose metadata cannot describe a model.
public enum PackModelError: Error, Equatable, CustomStringConvertible {
    case missingMetadata(path: String, key: String)
    case invalidConfig(path: String, key: String, field: String, problem: String)

    public var description: String {
        switch self {
        case let .missingMetadata(path, key):
            return "\(path): the metadata has no '\(key)' object; the pack was not written by "
                + "'mvad convert', or not for this component."
        case let .invalidConfig(path, key, field, problem):
            return "\(path): metadata '\(key)', field \(field) \(problem)."
        }
    }
}

public enum PackModels {
    /// Metadata keys of the component configs and the tensor prefixes of their weights.
    public static let unetKey = "unet_config", unetPrefix = "unet."
    public static let controlNetKey = "controlnet_config", controlNetPrefix = "controlnet."
    /// A ControlLoRA stored separate: its own file's tensors, merged over `unetPrefix` on load.
    public static let controlSourceKey = "controlnet_source", controlLoRAPrefix = "controllora."
    public static let vaeKey = "vae_config", vaePrefix = "vae."
    public static let promptTensor = "prompt.encoder_hidden_states"

    public static func unet(pack: PackFile) throws -> UNet2DConditionModel {
        let config = try self.config(UNetConfig.self, key: unetKey, pack: pack)
        return try UNet2DConditionModel(
            config: config, weights: PackWeights(pack: pack, prefix: unetPrefix))
    }

    /// The ControlNet, or the ControlLoRA (stored merged, or separate and merged here over the
    /// pack's UNet encoder), or nil when the pack holds none.
    public static func controlNet(pack: PackFile) throws -> ControlNetModel? {
        let metadata = pack.metadataObject()
        guard metadata[controlNetKey] != nil else { return nil }
        let config = try self.config(UNetConfig.self, key: controlNetKey, pack: pack)
        let source = metadata[controlSourceKey] as? [String: Any] ?? [:]
        let lora = source["lora"].map { "\($0)" }
        if lora == nil || lora == "merged" {
            return try ControlNetModel(
                config: config, weights: PackWeights(pack: pack, prefix: controlNetPrefix))
        }
        guard lora == "separate" else {
            throw PackModelError.invalidConfig(
                path: pack.path, key: controlSourceKey, field: "lora",
                problem: "is '\(lora ?? "")', expected 'separate' or 'merged'; the pack was "
                    + "written by a newer converter")
        }
        let alpha = (source["lora_alpha"] as? NSNumber)?.floatValue
        let weights = try ControlLoRAWeights(
            unet: PackWeights(pack: pack, prefix: unetPrefix),
            lora: PackWeights(pack: pack, prefix: controlLoRAPrefix), alpha: alpha)
        return try ControlNetModel(config: config, weights: weights)
    }

    public static func vaeEncoder(pack: PackFile) throws -> VAEEncoder {
        let config = try self.config(VAEConfig.self, key: vaeKey, pack: pack)
        return try VAEEncoder(config: config, weights: PackWeights(pack: pack, prefix: vaePrefix))
    }

    /// The prompt's text embedding [1, L, D].
    public static func promptEmbedding(pack: PackFile) throws -> Tensor {
        try pack.floatTensor(promptTensor)
    }

    /// The settings.json object the pack was converted with, as JSON bytes ("{}" when the
    /// folder had none), for `MethodSettings.read(json:path:)`.
    public static func settingsJSON(pack: PackFile) throws -> Data {
        guard let settings = pack.metadataObject()["settings"] else {
            throw PackModelError.missingMetadata(path: pack.path, key: "settings")
        }
        return try JSONSerialization.data(withJSONObject: settings, options: [.sortedKeys])
    }

    /// Decodes the metadata object `key` as `type`; errors name the field at fault.
    static func config<T: Decodable>(_ type: T.Type, key: String, pack: PackFile) throws -> T {
        guard let object = pack.metadataObject()[key] as? [String: Any] else {
            throw PackModelError.missingMetadata(path: pack.path, key: key)
        }
        let data = try JSONSerialization.data(withJSONObject: object)
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as DecodingError {
            throw PackModelError.invalidConfig(path: pack.path, key: key, field: field(of: error),
                                               problem: "\(error)")
        }
    }

    /// The dotted key path a decoding error points at, "(top level)" when it has none.
    private static func field(of error: DecodingError) -> String {
        var path: [any CodingKey] = []
        switch error {
        case let .keyNotFound(key, context): path = context.codingPath + [key]
        case let .valueNotFound(_, context), let .typeMismatch(_, context),
             let .dataCorrupted(context): path = context.codingPath
        @unknown default: break
        }
        let names = path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
        return names.isEmpty ? "(top level)" : names.joined(separator: ".")
    }
}
