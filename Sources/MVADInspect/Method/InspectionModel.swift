// Everything one inspection model is made of: the VAE encoder, the UNet, the optional
// ControlNet (or ControlLoRA), the prompt embedding and the method's settings, loaded from a
// model folder of diffusers components.
//
// Layout of a model folder:
//   unet/                          diffusers UNet2DConditionModel
//   controlnet/ or controllora/    diffusers ControlNetModel, or ControlLoRA over unet/
//   vae/                           diffusers AutoencoderKL (the encoder is used)
//   prompt_embedding.safetensors   `encoder_hidden_states` [1, L, D] (tools/ CLIP export)
//   settings.json                  MethodSettings (optional; defaults otherwise)

import Foundation
import MVADEngine

public struct InspectionModel: Sendable {
    public var settings: MethodSettings
    public let vae: VAEEncoder
    public let unet: UNet2DConditionModel
    public let control: ControlNetModel?
    /// The prompt's text embedding [1, L, D].
    public let context: Tensor
    public let scheduler: DDIMScheduler
    /// Where the model came from, for reports.
    public let source: String
    /// How the weights are stored and run: "f32" for a diffusers folder, else the pack's
    /// storage ("f32", "f16", "int8"). Features, and so banks, depend on it.
    public let weights: String

    public init(settings: MethodSettings, vae: VAEEncoder, unet: UNet2DConditionModel,
                control: ControlNetModel?, context: Tensor, source: String,
                weights: String = "f32") throws {
        try settings.validate()
        guard context.rank == 3, context.shape[0] == 1 else {
            throw ModelFolderError.badPromptEmbedding(
                path: source, problem: "has shape \(context.shape), expected [1, L, D]")
        }
        let blocks = unet.decoderBlockCount
        if let bad = settings.featureBlocks.first(where: { $0 >= blocks }) {
            throw SettingsError(key: "feature_blocks",
                                problem: "names decoder block \(bad); the UNet has 0..<\(blocks)")
        }
        self.settings = settings
        self.vae = vae
        self.unet = unet
        self.control = control
        self.context = context
        self.scheduler = DDIMScheduler(settings.scheduler)
        self.source = source
        self.weights = weights
    }

    /// What a memory bank depends on: the method's settings for `modality` and the weights
    /// the features were computed with. A bank built otherwise is refused.
    public func bankDependencies(for modality: Modality) -> [String: String] {
        var dependencies = settings.bankDependencies(for: modality)
        dependencies["weights"] = weights
        if control == nil { dependencies["feature_source"] = "unet" }   // plain-UNet ablation
        return dependencies
    }

    /// Loads a model folder (layout above).
    public static func load(folder: String) throws -> InspectionModel {
        let manager = FileManager.default
        func exists(_ name: String) -> Bool { manager.fileExists(atPath: folder + "/" + name) }
        guard exists("unet"), exists("vae") else {
            throw ModelFolderError.missingComponent(
                path: folder, problem: "needs unet/ and vae/ (diffusers folders)"
                    + (exists("unet") ? "; vae/ is missing" : "; unet/ is missing"))
        }
        var settings = MethodSettings()
        if exists("settings.json") {
            let path = folder + "/settings.json"
            settings = try MethodSettings.read(json: try Data(contentsOf: URL(fileURLWithPath: path)),
                                               path: path)
        }
        let unet = try DiffusersModels.unet(folder: folder + "/unet")
        let vae = try DiffusersModels.vaeEncoder(folder: folder + "/vae")
        var control: ControlNetModel? = nil
        if exists("controlnet") {
            control = try DiffusersModels.controlNet(folder: folder + "/controlnet")
        } else if exists("controllora") {
            control = try DiffusersModels.controlLoRA(folder: folder + "/controllora",
                                                      unetFolder: folder + "/unet")
        }
        let promptPath = folder + "/prompt_embedding.safetensors"
        guard exists("prompt_embedding.safetensors") else {
            throw ModelFolderError.missingComponent(
                path: folder, problem: "needs prompt_embedding.safetensors (tools/ CLIP export)")
        }
        let context = try SafeTensorsFile(path: promptPath).tensor("encoder_hidden_states")
        return try InspectionModel(settings: settings, vae: vae, unet: unet, control: control,
                                   context: context, source: folder)
    }
}

/// A model folder that cannot be used.
public enum ModelFolderError: Error, CustomStringConvertible, Equatable {
    case missingComponent(path: String, problem: String)
    case badPromptEmbedding(path: String, problem: String)

    public var description: String {
        switch self {
        case let .missingComponent(path, problem): return "model folder \(path) \(problem)"
        case let .badPromptEmbedding(path, problem): return "\(path): prompt embedding \(problem)"
        }
    }
}
