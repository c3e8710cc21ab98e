// InspectionModel+Pack: an inspection model loaded from a .mvad pack written by
// `mvad convert`, the same components as a model folder but from one memory-mapped file.

import Foundation
import MVADEngine
import MVADPack

extension InspectionModel {
    /// Loads a pack: the UNet, the optional ControlNet (a ControlLoRA arrives merged), the VAE
    /// encoder and the prompt embedding, with the settings.json the folder was converted with.
    public static func load(pack path: String) throws -> InspectionModel {
        let pack = try PackFile(path: path)
        let settings = try MethodSettings.read(json: try PackModels.settingsJSON(pack: pack),
                                               path: path + " (metadata 'settings')")
        // The int8 weights stay in the mapping (the models multiply from it); what the build
        // copied, it released page by page (PackWeights).
        let model = try InspectionModel(
            settings: settings, vae: try PackModels.vaeEncoder(pack: pack),
            unet: try PackModels.unet(pack: pack), control: try PackModels.controlNet(pack: pack),
            context: try PackModels.promptEmbedding(pack: pack), source: path,
            weights: (pack.metadataObject()["quantisation"] as? [String: Any])?["weights"]
                as? String ?? "unknown")
        return model
    }
}
