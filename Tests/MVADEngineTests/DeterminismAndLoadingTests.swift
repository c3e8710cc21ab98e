// Bit-identical results across runs and thread counts, and the loaders' refusals: configs
// that do not describe the weights, and LoRA files that do not fit the UNet.

import Foundation
import XCTest
@testable import MVADEngine

final class DeterminismAndLoadingTests: XCTestCase {
    func testResultsAreBitIdenticalForOneTwoAndFourThreads() throws {
        let golden = try Fixtures.golden("controlnet")
        let inputs = try DenoiserInputs(golden)
        let unet = try DiffusersModels.unet(folder: Fixtures.path("unet"))
        let net = try DiffusersModels.controlNet(folder: Fixtures.path("controlnet"))
        let vae = try DiffusersModels.vaeEncoder(folder: Fixtures.path("vae"))
        let image = try Fixtures.golden("vae").tensor("sample")
        var results: [[Float]] = []
        for threads in [1, 2, 4, 2] {
            let c = Compute(threads: threads)
            let residuals = try net(sample: inputs.sample, timesteps: inputs.timesteps,
                                    context: inputs.context,
                                    condition: try golden.tensor("controlnet_cond"), compute: c)
            let out = try unet(sample: inputs.sample, timesteps: inputs.timesteps,
                               context: inputs.context, residuals: residuals, compute: c)
            let latent = try vae.encode(image, compute: c)
            results.append((out.noisePrediction?.scalars ?? []) + latent.scalars)
        }
        for r in results.dropFirst() { XCTAssertEqual(r, results[0]) }
    }

    /// A copy of a fixture folder with its config.json edited.
    private func folder(copying name: String, edit: (inout [String: Any]) -> Void) throws -> String {
        let source = Fixtures.path(name)
        let target = NSTemporaryDirectory() + "mvad-\(name)-\(UUID().uuidString)"
        try FileManager.default.copyItem(atPath: source, toPath: target)
        let configPath = target + "/config.json"
        let data = try Data(contentsOf: URL(fileURLWithPath: configPath))
        var config = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configPath))
        addTeardownBlock { try? FileManager.default.removeItem(atPath: target) }
        return target
    }

    func testConfigThatDoesNotDescribeTheWeightsNamesTheTensorAndBothShapes() throws {
        let path = try folder(copying: "unet") { $0["cross_attention_dim"] = 48 }
        XCTAssertThrowsError(try DiffusersModels.unet(folder: path)) { error in
            guard case let ModelLoadError.shapeMismatch(_, name, found, expected) = error else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(name, "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight")
            XCTAssertEqual(found, [16, 32])
            XCTAssertEqual(expected, [16, 48])
            XCTAssertTrue("\(error)".contains(name))
        }
    }

    func testUnsupportedArchitectureIsRefusedByField() throws {
        let path = try folder(copying: "unet") { $0["addition_embed_type"] = "text_time" }
        XCTAssertThrowsError(try DiffusersModels.unet(folder: path)) { error in
            XCTAssertEqual(error as? ModelLoadError, .unsupportedConfig(
                component: "UNet2DConditionModel", field: "addition_embed_type",
                found: "text_time", supported: "null"))
        }
    }

    func testLoRAOnAMissingLayerOrAConvolutionIsRefused() throws {
        let dir = NSTemporaryDirectory() + "mvad-lora-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        let unet = try WeightStore(folder: Fixtures.path("unet"))
        let cases: [(String, [(name: String, tensor: Tensor)], String)] = [
            ("missing", [("down_blocks.0.nothing.lora_A.weight", Tensor(zeros: [4, 16])),
                         ("down_blocks.0.nothing.lora_B.weight", Tensor(zeros: [16, 4]))],
             "not a weight of the UNet encoder"),
            ("conv", [("conv_in.lora_A.weight", Tensor(zeros: [4, 4])),
                      ("conv_in.lora_B.weight", Tensor(zeros: [16, 4]))],
             "LoRA on convolutions is not supported"),
            ("half", [("time_embedding.linear_1.lora_A.weight", Tensor(zeros: [4, 16]))],
             "needs both a down"),
            ("shape", [("time_embedding.linear_1.lora_A.weight", Tensor(zeros: [4, 15])),
                       ("time_embedding.linear_1.lora_B.weight", Tensor(zeros: [64, 4]))],
             "do not factor"),
            ("stray", [("some_other.weight", Tensor(zeros: [1]))], "neither a ControlNet tensor"),
        ]
        for (name, tensors, message) in cases {
            let path = dir + "/\(name).safetensors"
            try SafeTensorsWriter.write(tensors, to: path)
            let lora = try SafeTensorsFile(path: path)
            XCTAssertThrowsError(try ControlLoRAWeights(unet: unet, lora: lora, alpha: nil)) { error in
                XCTAssertTrue("\(error)".contains(message), "\(name): \(error)")
            }
        }
    }
}
