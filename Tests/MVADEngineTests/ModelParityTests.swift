// Parity of the ported models with diffusers on the tiny random-weight models: every output
// within relative L2 1e-4 of what diffusers computed (Fixtures/tiny/cases).

import XCTest
@testable import MVADEngine

final class ModelParityTests: XCTestCase {
    let compute = Compute(threads: 2)

    private func checkUNet(folder: String, variant: String? = nil, golden name: String,
                           file: StaticString = #filePath, line: UInt = #line) throws {
        let golden = try Fixtures.golden(name)
        let unet = try DiffusersModels.unet(folder: Fixtures.path(folder), variant: variant)
        let inputs = try DenoiserInputs(golden)
        let out = try unet(sample: inputs.sample, timesteps: inputs.timesteps,
                           context: inputs.context, compute: compute)
        assertMatches(out.noisePrediction, try golden.tensor("noise_pred"), "\(name) noise_pred",
                      file: file, line: line)
        XCTAssertEqual(out.decoderBlocks.count, unet.decoderBlockCount, file: file, line: line)
        for (i, block) in out.decoderBlocks.enumerated() {
            assertMatches(block, try golden.tensor("up_blocks.\(i)"), "\(name) up_blocks.\(i)",
                          file: file, line: line)
        }
    }

    func testUNetMatchesDiffusers() throws {
        try checkUNet(folder: "unet", golden: "unet")
    }

    func testUNetWithLinearProjectionAndPerBlockHeadsMatchesDiffusers() throws {
        try checkUNet(folder: "unet_linear", golden: "unet_linear")
    }

    func testFP16VariantMatchesDiffusers() throws {
        try checkUNet(folder: "unet_fp16", variant: "fp16", golden: "unet_fp16")
    }

    func testShardedCheckpointGivesTheSameResultAsTheSingleFile() throws {
        try checkUNet(folder: "unet_sharded", golden: "unet_linear")
        let inputs = try DenoiserInputs(try Fixtures.golden("unet_linear"))
        let single = try DiffusersModels.unet(folder: Fixtures.path("unet_linear"))
        let sharded = try DiffusersModels.unet(folder: Fixtures.path("unet_sharded"))
        let a = try single(sample: inputs.sample, timesteps: inputs.timesteps,
                           context: inputs.context, compute: compute)
        let b = try sharded(sample: inputs.sample, timesteps: inputs.timesteps,
                            context: inputs.context, compute: compute)
        XCTAssertEqual(a.noisePrediction, b.noisePrediction)
    }

    func testUNetStopsAfterTheChosenDecoderBlock() throws {
        let golden = try Fixtures.golden("unet")
        let unet = try DiffusersModels.unet(folder: Fixtures.path("unet"))
        let inputs = try DenoiserInputs(golden)
        let out = try unet(sample: inputs.sample, timesteps: inputs.timesteps,
                           context: inputs.context, stopAfterDecoderBlock: 1, compute: compute)
        XCTAssertNil(out.noisePrediction)
        XCTAssertEqual(out.decoderBlocks.count, 2)
        for i in 0..<2 {
            assertMatches(out.decoderBlocks[i], try golden.tensor("up_blocks.\(i)"), "up_blocks.\(i)")
        }
    }

    private func checkControl(_ net: ControlNetModel, golden name: String,
                              file: StaticString = #filePath, line: UInt = #line) throws {
        let golden = try Fixtures.golden(name)
        let inputs = try DenoiserInputs(golden)
        let residuals = try net(sample: inputs.sample, timesteps: inputs.timesteps,
                                context: inputs.context,
                                condition: try golden.tensor("controlnet_cond"),
                                scale: try golden.tensor("conditioning_scale").scalars[0],
                                compute: compute)
        let expectedCount = golden.names.filter { $0.hasPrefix("down_block_res_samples.") }.count
        XCTAssertEqual(residuals.down.count, expectedCount, file: file, line: line)
        for (i, r) in residuals.down.enumerated() {
            assertMatches(r, try golden.tensor("down_block_res_samples.\(i)"),
                          "\(name) down_block_res_samples.\(i)", file: file, line: line)
        }
        assertMatches(residuals.mid, try golden.tensor("mid_block_res_sample"),
                      "\(name) mid_block_res_sample", file: file, line: line)

        let unet = try DiffusersModels.unet(folder: Fixtures.path("unet"))
        let out = try unet(sample: inputs.sample, timesteps: inputs.timesteps,
                           context: inputs.context, residuals: residuals, compute: compute)
        assertMatches(out.noisePrediction, try golden.tensor("noise_pred"),
                      "\(name) UNet noise_pred with residuals", file: file, line: line)
        for (i, block) in out.decoderBlocks.enumerated() {
            assertMatches(block, try golden.tensor("up_blocks.\(i)"),
                          "\(name) UNet up_blocks.\(i) with residuals", file: file, line: line)
        }
    }

    func testControlNetResidualsAndControlledUNetMatchDiffusers() throws {
        try checkControl(try DiffusersModels.controlNet(folder: Fixtures.path("controlnet")),
                         golden: "controlnet")
    }

    func testControlLoRAWithPeftKeysMatchesMergedReference() throws {
        let net = try DiffusersModels.controlLoRA(folder: Fixtures.path("controllora"),
                                                  unetFolder: Fixtures.path("unet"))
        try checkControl(net, golden: "controllora")
    }

    func testControlLoRAWithKohyaKeysMatchesMergedReference() throws {
        let net = try DiffusersModels.controlLoRA(
            folder: Fixtures.path("controllora"), unetFolder: Fixtures.path("unet"),
            weightsFile: "controllora_kohya.safetensors")
        try checkControl(net, golden: "controllora")
    }

    func testVAEEncoderLatentMatchesDiffusers() throws {
        let golden = try Fixtures.golden("vae")
        let image = try golden.tensor("sample")
        for folder in ["vae", "vae_oldkeys"] {
            let vae = try DiffusersModels.vaeEncoder(folder: Fixtures.path(folder))
            assertMatches(try vae.latentMean(image, compute: compute), try golden.tensor("latent_mean"),
                          "\(folder) latent_mean")
            assertMatches(try vae.encode(image, compute: compute), try golden.tensor("latent"),
                          "\(folder) latent")
        }
    }
}
