// The converter with a prompt computed by the Swift CLIP text encoder (mvad convert --clip):
// the pack stores exactly that embedding and the prompt text, folds with it, and needs no
// prompt_embedding.safetensors in the model folder.

import Foundation
import MVADEngine
import XCTest
@testable import MVADPack

final class PromptConversionTests: PackTestCase {
    static let clipFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("MVADEngineTests/Fixtures/clip").path

    /// The pipeline model folder without its prompt embedding file.
    func folderWithoutPrompt() throws -> String {
        let model = path("no-prompt-model")
        let manager = FileManager.default
        try manager.createDirectory(atPath: model, withIntermediateDirectories: true)
        for name in ["unet", "vae", "controlnet", "settings.json"] {
            try manager.createSymbolicLink(atPath: model + "/" + name,
                                           withDestinationPath: ConvertTests.modelFolder + "/" + name)
        }
        return model
    }

    func testPackStoresTheComputedPromptAndFoldsWithIt() throws {
        let model = try folderWithoutPrompt()
        let text = PromptEmbedding.prompt(category: "GummyBear")
        let embedding = try PromptEmbedding.compute(prompt: text, clipFolder: Self.clipFolder)
        var options = ConversionOptions()
        XCTAssertThrowsError(try PackConverter.convert(modelFolder: model,
                                                       output: path("refused.mvad"),
                                                       options: options)) { error in
            XCTAssertTrue("\(error)".contains("prompt_embedding.safetensors"), "\(error)")
        }
        options.prompt = (embedding.hiddenStates, text)
        let output = path("prompted.mvad")
        _ = try PackConverter.convert(modelFolder: model, output: output, options: options)
        let pack = try PackFile(path: output)
        XCTAssertEqual(try PackModels.promptEmbedding(pack: pack).scalars,
                       embedding.hiddenStates.scalars)
        XCTAssertEqual(pack.metadataObject()["prompt"] as? String, "A photo of a GummyBear")

        // Folded with this prompt: the UNet from the pack runs as the folder's UNet does when
        // given the same context (f32 pack, folding rounds only).
        let unet = try PackModels.unet(pack: pack)
        let reference = try DiffusersModels.unet(folder: ConvertTests.modelFolder + "/unet")
        let sample = ConvertTests.pseudoRandom([1, 4, 4, 4], seed: 7)
        let c = Compute(threads: 1)
        let a = try unet(sample: sample, timesteps: [41], context: embedding.hiddenStates,
                         compute: c).noisePrediction
        let b = try reference(sample: sample, timesteps: [41], context: embedding.hiddenStates,
                              compute: c).noisePrediction
        let error = relativeL2(try XCTUnwrap(a).scalars, try XCTUnwrap(b).scalars)
        XCTAssertLessThan(error, 1e-5)
    }

    func testLayersMeasuredAsSensitiveStayFloat16() throws {
        // A limit below the tiny model's per-layer int8 errors keeps every measured layer f16,
        // naming the reason; the default keeps none.
        var strict = ConversionOptions(weights: .int8PerChannel)
        strict.sensitiveLayerLimit = 1e-4
        let report = try PackConverter.convert(modelFolder: ConvertTests.modelFolder,
                                               output: path("strict.mvad"), options: strict)
        let sensitive = report.keptFloat.filter { $0.reason == .sensitive }
        XCTAssertFalse(sensitive.isEmpty)
        let pack = try PackFile(path: path("strict.mvad"))
        XCTAssertTrue(sensitive.allSatisfy { pack.entry($0.name)?.dtype == .float16 })
        XCTAssertFalse(pack.entries.contains { $0.quantization == .int8Panels })

        let normal = try PackConverter.convert(
            modelFolder: ConvertTests.modelFolder, output: path("normal.mvad"),
            options: ConversionOptions(weights: .int8PerChannel))
        XCTAssertFalse(normal.keptFloat.contains { $0.reason == .sensitive })
    }
}

final class Block32ConversionTests: PackTestCase {
    func testBlocksOf32StoreLinearWeightsWithSmallerErrorAndRun() throws {
        let options = ConversionOptions(weights: .int8Blocks32)
        let report = try PackConverter.convert(modelFolder: ConvertTests.modelFolder,
                                               output: path("blocks.mvad"), options: options)
        let channel = try PackConverter.convert(
            modelFolder: ConvertTests.modelFolder, output: path("channel.mvad"),
            options: ConversionOptions(weights: .int8PerChannel))
        let pack = try PackFile(path: path("blocks.mvad"))
        let blocks = pack.entries.filter { $0.quantization == .int8Blocks32 }
        XCTAssertFalse(blocks.isEmpty)
        // Every block-quantised tensor is a linear weight with its scales per 32 inputs, and
        // its error is at most the per-channel error of the same tensor.
        let perChannel = Dictionary(channel.layers.map { ($0.name, $0.relativeL2) }) { a, _ in a }
        for entry in blocks {
            XCTAssertEqual(entry.shape.count, 2, entry.name)
            XCTAssertEqual(pack.entry(entry.scalesName)?.shape,
                           [entry.shape[0], entry.shape[1] / 32], entry.name)
            let layer = try XCTUnwrap(report.layers.first { $0.name == entry.name })
            XCTAssertLessThanOrEqual(layer.relativeL2, try XCTUnwrap(perChannel[entry.name]),
                                     entry.name)
        }
        // The models load (block weights widened to f32) and run.
        let unet = try PackModels.unet(pack: pack)
        let sample = ConvertTests.pseudoRandom([1, 4, 4, 4], seed: 3)
        let context = try PackModels.promptEmbedding(pack: pack)
        let out = try unet(sample: sample, timesteps: [21], context: context,
                           compute: Compute(threads: 1)).noisePrediction
        XCTAssertEqual(out?.shape, [1, 4, 4, 4])
    }
}
