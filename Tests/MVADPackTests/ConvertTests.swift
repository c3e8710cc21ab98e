// PackConverter and PackModels on the tiny pipeline model folder: every mode converts, the
// pack verifies, f32 packs run bit-identical to the folder, f16 and int8 within named limits.

import Foundation
@testable import MVADEngine
import XCTest
@testable import MVADPack

final class ConvertTests: PackTestCase {
    /// The tiny model folder of the MVADInspect pipeline fixture.
    static let modelFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent()
        .appendingPathComponent("MVADInspectTests/Fixtures/pipeline/models").path

    /// Relative L2 limits against the folder's models. f16: exact, since the fixture's weights
    /// are f16 already. int8: about twice the largest value measured on this fixture with the
    /// layers running on int8 weights and int8 activations (output 4.4e-2 at the ControlNet's
    /// mid residual; weights-only int8 gave 2.5e-2; worst single layer 7.6e-3).
    static let float16Limit = 0.0
    static let int8Limit = 8e-2
    static let int8LayerLimit = 1.5e-2
    /// The method's default timesteps, folded for model folders without settings.json.
    static let timesteps = [1, 21, 41, 61, 81]

    /// The outputs compared: UNet noise prediction, ControlNet mid residual, VAE latent.
    struct Outputs {
        let noise: Tensor
        let controlMid: Tensor
        let controlFirstDown: Tensor
        let latent: Tensor
    }

    /// Deterministic values in [-1, 1).
    static func pseudoRandom(_ shape: [Int], seed: UInt64) -> Tensor {
        var state = seed
        return Tensor(shape: shape) { values in
            for i in values.indices {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                values[i] = Float(state >> 40) / Float(1 << 23) - 1
            }
        }
    }

    func run(unet: UNet2DConditionModel, control: ControlNetModel?, vae: VAEEncoder,
             context: Tensor) throws -> Outputs {
        let c = Compute(threads: 1)
        let sample = Self.pseudoRandom([1, 4, 8, 8], seed: 1)
        let condition = Self.pseudoRandom([1, 3, 16, 16], seed: 2).scalars.map { ($0 + 1) / 2 }
        let image = Self.pseudoRandom([1, 3, 16, 16], seed: 3)
        let control = try XCTUnwrap(control)
        let residuals = try control(sample: sample, timesteps: [21], context: context,
                                    condition: Tensor(shape: [1, 3, 16, 16], scalars: condition),
                                    compute: c)
        let noise = try unet(sample: sample, timesteps: [21], context: context,
                             residuals: residuals, compute: c).noisePrediction
        return Outputs(noise: try XCTUnwrap(noise), controlMid: residuals.mid,
                       controlFirstDown: residuals.down[0],
                       latent: try vae.encode(image, compute: c))
    }

    func folderOutputs() throws -> Outputs {
        let folder = Self.modelFolder
        let context = try SafeTensorsFile(path: folder + "/prompt_embedding.safetensors")
            .tensor("encoder_hidden_states")
        return try run(unet: DiffusersModels.unet(folder: folder + "/unet"),
                       control: DiffusersModels.controlNet(folder: folder + "/controlnet"),
                       vae: DiffusersModels.vaeEncoder(folder: folder + "/vae"), context: context)
    }

    func packOutputs(_ pack: PackFile) throws -> Outputs {
        try run(unet: PackModels.unet(pack: pack), control: PackModels.controlNet(pack: pack),
                vae: PackModels.vaeEncoder(pack: pack),
                context: PackModels.promptEmbedding(pack: pack))
    }

    /// The pipeline folder converted with `weights`, folded unless `fold` is false (the
    /// folded packs' own tests are in FoldingTests).
    func convert(_ weights: ConversionOptions.Weights,
                 fold: Bool = true) throws -> (PackFile, ConversionReport) {
        let output = path("model-\(weights.rawValue)-\(fold).mvad")
        let report = try PackConverter.convert(
            modelFolder: Self.modelFolder, output: output,
            options: ConversionOptions(weights: weights, fold: fold))
        return (try PackFile(path: output), report)
    }

    func largestError(_ a: Outputs, _ b: Outputs) -> Double {
        [relativeL2(a.noise.scalars, b.noise.scalars),
         relativeL2(a.controlMid.scalars, b.controlMid.scalars),
         relativeL2(a.controlFirstDown.scalars, b.controlFirstDown.scalars),
         relativeL2(a.latent.scalars, b.latent.scalars)].max() ?? .infinity
    }

    func testFloat32PackRunsBitIdenticalToTheFolder() throws {
        let (pack, report) = try convert(.float32, fold: false)
        let expected = try folderOutputs()
        let actual = try packOutputs(pack)
        XCTAssertEqual(actual.noise, expected.noise)
        XCTAssertEqual(actual.controlMid, expected.controlMid)
        XCTAssertEqual(actual.controlFirstDown, expected.controlFirstDown)
        XCTAssertEqual(actual.latent, expected.latent)
        XCTAssertTrue(report.layers.allSatisfy { $0.relativeL2 == 0 })
        XCTAssertTrue(report.keptFloat.isEmpty)
    }

    func testFloat16PackIsExactForTheseFloat16Weights() throws {
        // The fixture's safetensors hold f16 values, so storing them as f16 loses nothing.
        let (pack, report) = try convert(.float16, fold: false)
        let expected = try folderOutputs()
        let actual = try packOutputs(pack)
        XCTAssertEqual(largestError(actual, expected), Self.float16Limit)
        XCTAssertTrue(report.layers.allSatisfy { $0.relativeL2 == 0 })
        XCTAssertLessThan(report.packBytes, report.float32Bytes * 55 / 100)
    }

    /// Unfolded: on this tiny fixture the folded f32 keys and values (77 tokens) outweigh the
    /// int8 projections they replace (context width 32); at SD size they are smaller.
    func testInt8PackStaysWithinItsLimits() throws {
        let (pack, report) = try convert(.int8PerChannel, fold: false)
        let expected = try folderOutputs()
        let actual = try packOutputs(pack)
        let errors = [
            ("noise", relativeL2(actual.noise.scalars, expected.noise.scalars)),
            ("control mid", relativeL2(actual.controlMid.scalars, expected.controlMid.scalars)),
            ("control down 0", relativeL2(actual.controlFirstDown.scalars,
                                          expected.controlFirstDown.scalars)),
            ("latent", relativeL2(actual.latent.scalars, expected.latent.scalars)),
        ]
        for (name, error) in errors {
            XCTAssertGreaterThan(error, 0, name)
            XCTAssertLessThan(error, Self.int8Limit, name)
        }
        let worst = try XCTUnwrap(report.worstLayers(1).first)
        XCTAssertLessThan(worst.relativeL2, Self.int8LayerLimit, worst.name)
        XCTAssertLessThan(report.packBytes, report.float32Bytes * 35 / 100)
    }

    func testEveryModeWritesAPackThatVerifiesWithItsMetadata() throws {
        for weights in ConversionOptions.Weights.allCases {
            let (pack, report) = try convert(weights)
            let verification = try pack.verify()
            XCTAssertEqual(verification.tensorCount, pack.entries.count)
            XCTAssertEqual(report.packBytes, pack.dataSection.upperBound)

            let metadata = pack.metadataObject()
            for (key, file) in [("unet_config", "unet"), ("controlnet_config", "controlnet"),
                                ("vae_config", "vae")] {
                let data = try Data(contentsOf: URL(fileURLWithPath:
                    Self.modelFolder + "/\(file)/config.json"))
                let source = try XCTUnwrap(
                    JSONSerialization.jsonObject(with: data) as? NSDictionary)
                XCTAssertEqual(metadata[key] as? NSDictionary, source, key)
            }
            let settings = try XCTUnwrap(metadata["settings"] as? [String: Any])
            XCTAssertEqual(settings["timesteps"] as? [Int], [1, 21, 41, 61, 81])
            XCTAssertEqual(metadata["converter_version"] as? String, PackConverter.version)
            let checksums = try XCTUnwrap(metadata["source_checksums"] as? [String: String])
            XCTAssertEqual(checksums.keys.sorted(), [
                "controlnet/diffusion_pytorch_model.safetensors", "prompt_embedding.safetensors",
                "unet/diffusion_pytorch_model.safetensors",
                "vae/diffusion_pytorch_model.safetensors"])
            let quantisation = try XCTUnwrap(metadata["quantisation"] as? [String: Any])
            XCTAssertEqual(quantisation["weights"] as? String, weights.rawValue)
            XCTAssertFalse(pack.names.contains { $0.hasPrefix("vae.decoder.") })
            XCTAssertFalse(pack.names.contains { $0.hasPrefix("vae.post_quant_conv.") })
        }
    }

    func testInt8PackQuantisesMatricesAndKeepsEdgeLayersAndVectorsFloat() throws {
        let (pack, report) = try convert(.int8PerChannel)
        let conv = try XCTUnwrap(pack.entry("unet.down_blocks.0.resnets.0.conv1.weight"))
        XCTAssertEqual(conv.dtype, .int8)
        XCTAssertEqual(conv.quantization, .int8Panels)
        XCTAssertEqual(conv.byteLength, 64 * (16 * 9 / 4 + 1), "one 16-row panel, K = 144")
        XCTAssertEqual(pack.entry(conv.scalesName)?.shape, [conv.shape[0]])
        for name in ["unet.conv_in.weight", "unet.conv_out.weight", "vae.quant_conv.weight",
                     "unet.down_blocks.0.resnets.0.conv1.bias"] {
            XCTAssertEqual(pack.entry(name)?.dtype, .float16, name)
        }
        XCTAssertEqual(pack.entry(PackModels.promptTensor)?.dtype, .float32)
        let reasons = Dictionary(report.keptFloat.map { ($0.name, $0.reason) }) { a, _ in a }
        XCTAssertEqual(reasons["unet.conv_in.weight"], .edgeLayer)
        XCTAssertEqual(reasons["unet.conv_norm_out.weight"], .vector)

        let weights = PackWeights(pack: pack, prefix: "unet.")
        XCTAssertFalse(weights.names.contains { $0.hasSuffix(".scales") })
        XCTAssertTrue(weights.names.contains("down_blocks.0.resnets.0.conv1.weight"))
        let folder = try WeightStore(folder: Self.modelFolder + "/unet")
        let original = try folder.tensor("down_blocks.0.resnets.0.conv1.weight")
        let restored = try weights.tensor("down_blocks.0.resnets.0.conv1.weight")
        XCTAssertLessThan(relativeL2(restored.scalars, original.scalars), 1e-2)
    }

    /// The engine's tiny fixture as a model folder: its UNet, its ControlLoRA (peft keys),
    /// the VAE saved with old attention key spellings, and the pipeline's prompt; no settings.
    func controlLoRAModelFolder() throws -> String {
        let tiny = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("MVADEngineTests/Fixtures/tiny").path
        let model = path("lora-model")
        let manager = FileManager.default
        try manager.createDirectory(atPath: model, withIntermediateDirectories: true)
        for (name, source) in [("unet", "unet"), ("controllora", "controllora"),
                               ("vae", "vae_oldkeys")] {
            try manager.createSymbolicLink(atPath: model + "/" + name,
                                           withDestinationPath: tiny + "/" + source)
        }
        try manager.copyItem(atPath: Self.modelFolder + "/prompt_embedding.safetensors",
                             toPath: model + "/prompt_embedding.safetensors")
        return model
    }

    func testControlLoRAIsStoredMergedAndOldVAEKeysModernised() throws {
        let model = try controlLoRAModelFolder()
        let output = path("lora.mvad")
        let report = try PackConverter.convert(
            modelFolder: model, output: output,
            options: ConversionOptions(controlLoRA: .merged, fold: false))
        let pack = try PackFile(path: output)
        XCTAssertEqual(report.control, "controllora (LoRA merged)")
        let metadata = pack.metadataObject()
        XCTAssertEqual(metadata["controlnet_source"] as? [String: String],
                       ["folder": "controllora", "lora": "merged"])
        XCTAssertEqual(report.controlLoRASizes?.stored, .merged)
        XCTAssertEqual((metadata["settings"] as? [String: Any])?.count, 0)
        XCTAssertFalse(pack.names.contains { $0.contains("lora") })
        XCTAssertNotNil(pack.entry("vae.encoder.mid_block.attentions.0.to_q.weight"))

        let c = Compute(threads: 1)
        let context = try PackModels.promptEmbedding(pack: pack)
        let sample = Self.pseudoRandom([1, 4, 8, 8], seed: 4)
        let condition = Tensor(shape: [1, 3, 64, 64],
                               scalars: Self.pseudoRandom([1, 3, 64, 64], seed: 5).scalars
                                   .map { ($0 + 1) / 2 })
        let expected = try DiffusersModels.controlLoRA(folder: model + "/controllora",
                                                       unetFolder: model + "/unet")
        let actual = try XCTUnwrap(try PackModels.controlNet(pack: pack))
        let a = try actual(sample: sample, timesteps: [41], context: context,
                           condition: condition, compute: c)
        let b = try expected(sample: sample, timesteps: [41], context: context,
                             condition: condition, compute: c)
        XCTAssertEqual(a.mid, b.mid)
        XCTAssertEqual(a.down, b.down)

        let image = Self.pseudoRandom([1, 3, 16, 16], seed: 6)
        XCTAssertEqual(try PackModels.vaeEncoder(pack: pack).encode(image, compute: c),
                       try DiffusersModels.vaeEncoder(folder: model + "/vae")
                           .encode(image, compute: c))
    }

    /// The engine's tiny fixture as a model folder with only the peft ControlLoRA file, its
    /// golden case's prompt as prompt_embedding.safetensors, and no settings.json.
    func separateLoRAModelFolder() throws -> (model: String, golden: SafeTensorsFile) {
        try Self.separateLoRAModelFolder(in: folder)
    }

    /// That model folder, written under `base`.
    static func separateLoRAModelFolder(in base: String) throws
        -> (model: String, golden: SafeTensorsFile) {
        let tiny = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("MVADEngineTests/Fixtures/tiny").path
        let golden = try SafeTensorsFile(path: tiny + "/cases/controllora.safetensors")
        let model = base + "/separate-lora-model"
        let manager = FileManager.default
        try manager.createDirectory(atPath: model + "/controllora",
                                    withIntermediateDirectories: true)
        for name in ["unet", "vae"] {
            try manager.createSymbolicLink(atPath: model + "/" + name,
                                           withDestinationPath: tiny + "/" + name)
        }
        for file in ["config.json", "diffusion_pytorch_model.safetensors"] {
            try manager.createSymbolicLink(atPath: model + "/controllora/" + file,
                                           withDestinationPath: tiny + "/controllora/" + file)
        }
        // The case holds a batch of two prompts [2, 7, 32]; the pack keeps the first.
        let contexts = try golden.tensor("encoder_hidden_states")
        let (l, d) = (contexts.shape[1], contexts.shape[2])
        let first = Tensor(shape: [1, l, d], scalars: Array(contexts.scalars.prefix(l * d)))
        try SafeTensorsWriter.write([(name: "encoder_hidden_states", tensor: first)],
                                    to: model + "/prompt_embedding.safetensors")
        return (model, golden)
    }

    func testControlLoRAIsStoredSeparateByDefaultAndRunsBitIdentical() throws {
        let (model, golden) = try separateLoRAModelFolder()
        let output = path("lora-separate.mvad")
        let report = try PackConverter.convert(modelFolder: model, output: output,
                                               options: ConversionOptions(fold: false))
        let pack = try PackFile(path: output)
        XCTAssertEqual(report.control, "controllora (LoRA separate)")
        XCTAssertEqual(try pack.verify().tensorCount, pack.entries.count)

        let source = try XCTUnwrap(pack.metadataObject()["controlnet_source"] as? [String: Any])
        XCTAssertEqual(source["folder"] as? String, "controllora")
        XCTAssertEqual(source["lora"] as? String, "separate")
        XCTAssertEqual((source["lora_alpha"] as? NSNumber)?.floatValue, 8)
        XCTAssertEqual((source["lora_rank"] as? NSNumber)?.intValue, 4)

        // Exactly the ControlLoRA file's tensors under controllora., and no encoder copy.
        let file = try WeightStore(folder: model + "/controllora")
        XCTAssertEqual(PackWeights(pack: pack, prefix: "controllora.").names.sorted(),
                       file.names.sorted())
        XCTAssertTrue(file.names.contains { $0.hasSuffix(".lora_A.weight") })
        XCTAssertFalse(pack.names.contains { $0.hasPrefix("controlnet.") })

        let c = Compute(threads: 1)
        let sample = try golden.tensor("sample")
        let timesteps = try golden.tensor("timestep").scalars
        let context = try golden.tensor("encoder_hidden_states")
        let condition = try golden.tensor("controlnet_cond")
        let scale = try golden.tensor("conditioning_scale").scalars[0]
        let expected = try DiffusersModels.controlLoRA(folder: model + "/controllora",
                                                       unetFolder: model + "/unet")
        let actual = try XCTUnwrap(try PackModels.controlNet(pack: pack))
        let a = try actual(sample: sample, timesteps: timesteps, context: context,
                           condition: condition, scale: scale, compute: c)
        let b = try expected(sample: sample, timesteps: timesteps, context: context,
                             condition: condition, scale: scale, compute: c)
        XCTAssertEqual(a.mid, b.mid)
        XCTAssertEqual(a.down, b.down)
        XCTAssertEqual(try PackModels.promptEmbedding(pack: pack).scalars,
                       Array(context.scalars.prefix(context.count / context.shape[0])))
    }

    func testSeparateControlLoRAPackIsSmallerThanMergedAndReportsBoth() throws {
        let (model, _) = try separateLoRAModelFolder()
        for weights in ConversionOptions.Weights.allCases {
            let separate = try PackConverter.convert(
                modelFolder: model, output: path("separate-\(weights.rawValue).mvad"),
                options: ConversionOptions(weights: weights, defaultTimesteps: Self.timesteps))
            let merged = try PackConverter.convert(
                modelFolder: model, output: path("merged-\(weights.rawValue).mvad"),
                options: ConversionOptions(weights: weights, controlLoRA: .merged,
                                           defaultTimesteps: Self.timesteps))
            XCTAssertLessThan(separate.packBytes, merged.packBytes, weights.rawValue)

            // Both reports estimate both forms alike; their difference is the packs'
            // difference, but for the table entries the estimate leaves out.
            let sizes = try XCTUnwrap(separate.controlLoRASizes)
            let other = try XCTUnwrap(merged.controlLoRASizes)
            XCTAssertEqual(sizes.separateBytes, other.separateBytes)
            XCTAssertEqual(sizes.mergedBytes, other.mergedBytes)
            let saved = merged.packBytes - separate.packBytes
            XCTAssertLessThanOrEqual(sizes.mergedBytes - sizes.separateBytes, saved)
            XCTAssertGreaterThan(sizes.mergedBytes - sizes.separateBytes, saved * 8 / 10)
        }
    }

    func testInt8SeparateControlLoRAKeepsLoRAFactorsFloat16() throws {
        let (model, _) = try separateLoRAModelFolder()
        let output = path("lora-int8.mvad")
        let report = try PackConverter.convert(
            modelFolder: model, output: output,
            options: ConversionOptions(weights: .int8PerChannel,
                                       defaultTimesteps: Self.timesteps))
        let pack = try PackFile(path: output)
        let factors = pack.entries.filter { $0.name.contains(".lora_") }
        XCTAssertFalse(factors.isEmpty)
        XCTAssertTrue(factors.allSatisfy { $0.dtype == .float16 })
        let reasons = Dictionary(report.keptFloat.map { ($0.name, $0.reason) }) { a, _ in a }
        XCTAssertTrue(factors.allSatisfy { reasons[$0.name] == .loraFactor })
        XCTAssertNotNil(try PackModels.controlNet(pack: pack))
    }

    func testInt8SeparateControlLoRASharesTheUNetInt8WeightsAndRunsItsLoRABeside() throws {
        let (model, golden) = try separateLoRAModelFolder()
        let output = path("lora-int8-shared.mvad")
        // Unfolded: the golden case runs timesteps that a folded pack would not store.
        _ = try PackConverter.convert(modelFolder: model, output: output,
                                      options: ConversionOptions(weights: .int8PerChannel,
                                                                 fold: false))
        let pack = try PackFile(path: output)
        let unet = try PackModels.unet(pack: pack)
        let control = try XCTUnwrap(try PackModels.controlNet(pack: pack))

        // Every LoRA-targeted linear whose UNet weight is int8 is an int8 layer with its
        // update beside it (the tiny model's smallest weights stay float and come merged),
        // and every encoder int8 matrix is the UNet's own packed storage, not a copy.
        let int8Targets = pack.names.filter { $0.hasSuffix(".lora_A.weight") }.filter { name in
            let module = name.dropFirst("controllora.".count).dropLast(".lora_A.weight".count)
            return pack.entry("unet.\(module).weight")?.quantization == .int8Panels
        }
        XCTAssertFalse(int8Targets.isEmpty)
        let unetMatrices = QuantizedLayers(unet).matrices
        var updated = 0
        var shared = 0
        for (name, layer) in QuantizedLayers(control).linears where unetMatrices[name] != nil {
            XCTAssertNotNil(layer.quantized, name)
            if layer.lowRank != nil { updated += 1 }
        }
        for (name, matrix) in QuantizedLayers(control).matrices {
            guard let twin = unetMatrices[name] else { continue }
            let same = matrix.packed.withUnsafeBufferPointer { a in
                twin.packed.withUnsafeBufferPointer { b in a.baseAddress == b.baseAddress }
            }
            XCTAssertTrue(same, "\(name) is a copy of the UNet's")
            shared += 1
        }
        XCTAssertEqual(updated, int8Targets.count)
        XCTAssertGreaterThan(shared, updated)

        // Close to the float ControlLoRA (int8 weights and activations, exact LoRA).
        let c = Compute(threads: 1)
        let sample = try golden.tensor("sample")
        let timesteps = try golden.tensor("timestep").scalars
        let context = try golden.tensor("encoder_hidden_states")
        let condition = try golden.tensor("controlnet_cond")
        let expected = try DiffusersModels.controlLoRA(folder: model + "/controllora",
                                                       unetFolder: model + "/unet")
        let a = try control(sample: sample, timesteps: timesteps, context: context,
                            condition: condition, compute: c)
        let b = try expected(sample: sample, timesteps: timesteps, context: context,
                             condition: condition, compute: c)
        for (name, x, y) in [("mid", a.mid, b.mid), ("down 0", a.down[0], b.down[0])] {
            let error = relativeL2(x.scalars, y.scalars)
            XCTAssertGreaterThan(error, 0, name)
            XCTAssertLessThan(error, Self.int8Limit, name)
        }
    }

    func testPerChannelRoundingIsHalfAwayFromZeroWithClamping() {
        let quantised = Int8PerChannel(Tensor(shape: [2, 4],
                                              scalars: [1, -0.5, 0.25, 0, 0, 0, 0, 0]))
        XCTAssertEqual(quantised.scales, [Float(1) / 127, 0])
        XCTAssertEqual(quantised.values, [127, -64, 32, 0, 0, 0, 0, 0])
    }

    func testPickledOnlyFolderIsRefusedNamingSafetensors() throws {
        let model = path("pickled")
        let manager = FileManager.default
        for name in ["unet", "vae"] {
            try manager.createDirectory(atPath: model + "/" + name,
                                        withIntermediateDirectories: true)
            try manager.copyItem(atPath: Self.modelFolder + "/\(name)/config.json",
                                 toPath: model + "/\(name)/config.json")
            try write([0x80, 0x02], to: "pickled/\(name)/diffusion_pytorch_model.bin")
        }
        try manager.copyItem(atPath: Self.modelFolder + "/prompt_embedding.safetensors",
                             toPath: model + "/prompt_embedding.safetensors")
        XCTAssertThrowsError(try PackConverter.convert(modelFolder: model,
                                                       output: path("never.mvad"))) { error in
            guard case WeightStoreError.pickledCheckpointRefused = error else {
                return XCTFail("expected pickledCheckpointRefused, got \(error)")
            }
            XCTAssertTrue("\(error)".contains("safetensors"))
        }
        XCTAssertFalse(manager.fileExists(atPath: path("never.mvad")))
    }

    func testNonFiniteWeightIsRefusedByName() throws {
        let model = path("nan")
        let manager = FileManager.default
        try manager.createDirectory(atPath: model + "/unet", withIntermediateDirectories: true)
        try manager.copyItem(atPath: Self.modelFolder + "/unet/config.json",
                             toPath: model + "/unet/config.json")
        let broken = Tensor(shape: [2, 2], scalars: [1, .nan, 3, 4])
        try SafeTensorsWriter.write([(name: "conv_in.weight", tensor: broken)],
                                    to: model + "/unet/diffusion_pytorch_model.safetensors")
        try manager.createSymbolicLink(atPath: model + "/vae",
                                       withDestinationPath: Self.modelFolder + "/vae")
        try manager.copyItem(atPath: Self.modelFolder + "/prompt_embedding.safetensors",
                             toPath: model + "/prompt_embedding.safetensors")
        let options = ConversionOptions(weights: .int8PerChannel,
                                        defaultTimesteps: Self.timesteps)
        XCTAssertThrowsError(try PackConverter.convert(modelFolder: model, output: path("x.mvad"),
                                                       options: options)) { error in
            XCTAssertTrue("\(error)".contains("tensor 'unet.conv_in.weight' holds nan at "
                                              + "element 1"), "\(error)")
        }
    }

    func testFolderWithoutUNetIsRefusedByName() {
        XCTAssertThrowsError(try PackConverter.convert(modelFolder: folder,
                                                       output: path("never.mvad"))) { error in
            XCTAssertTrue("\(error)".contains("has no unet"), "\(error)")
        }
    }
}
