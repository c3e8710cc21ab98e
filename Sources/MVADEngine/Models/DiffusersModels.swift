// Entry points that build each component from a diffusers folder (config.json plus
// safetensors weights, single, fp16 variant or sharded).

/// The LoRA settings a ControlLoRA folder's config.json adds to the ControlNet config.
struct LoRASettings: Decodable {
    var loraRank: Int?
    var loraAlpha: Float?

    enum CodingKeys: String, CodingKey {
        case loraRank = "lora_rank", loraAlpha = "lora_alpha"
    }
}

public enum DiffusersModels {
    /// A UNet2DConditionModel folder.
    public static func unet(folder: String, variant: String? = nil) throws -> UNet2DConditionModel {
        let config = try WeightStore.readConfig(UNetConfig.self, folder: folder)
        let weights = try WeightStore(folder: folder, variant: variant)
        return try UNet2DConditionModel(config: config, weights: weights)
    }

    /// A ControlNetModel folder.
    public static func controlNet(folder: String, variant: String? = nil) throws -> ControlNetModel {
        let config = try WeightStore.readConfig(UNetConfig.self, folder: folder)
        let weights = try WeightStore(folder: folder, variant: variant)
        return try ControlNetModel(config: config, weights: weights)
    }

    /// A ControlLoRA: its folder (config.json with the ControlNet config plus lora_rank and
    /// lora_alpha, and the ControlNet's own and LoRA tensors) over the UNet folder whose
    /// encoder weights it shares. `weightsFile` picks one safetensors file in the folder.
    public static func controlLoRA(folder: String, unetFolder: String, weightsFile: String? = nil,
                                   variant: String? = nil) throws -> ControlNetModel {
        let config = try WeightStore.readConfig(UNetConfig.self, folder: folder)
        let lora = try WeightStore.readConfig(LoRASettings.self, folder: folder)
        let own: any WeightSource = try weightsFile.map {
            try WeightStore(files: [$0.hasPrefix("/") ? $0 : folder + "/" + $0])
        } ?? WeightStore(folder: folder, variant: variant)
        let unet = try WeightStore(folder: unetFolder, variant: variant)
        let merged = try ControlLoRAWeights(unet: unet, lora: own, alpha: lora.loraAlpha)
        return try ControlNetModel(config: config, weights: merged)
    }

    /// The encoder half of an AutoencoderKL folder. Old attention key spellings are accepted.
    public static func vaeEncoder(folder: String, variant: String? = nil) throws -> VAEEncoder {
        let config = try WeightStore.readConfig(VAEConfig.self, folder: folder)
        let weights = try WeightStore(folder: folder, variant: variant)
        return try VAEEncoder(config: config, weights: RenamedWeights(weights))
    }
}

extension WeightStore: WeightSource {}

extension SafeTensorsFile: WeightSource {
    public func shape(_ name: String) -> [Int]? { info(name)?.shape }
}
