// `mvad run-component`: one model component on tensors from a safetensors file, outputs to
// another; how engineers compare a conversion with PyTorch.

import Foundation
import MVADEngine

enum RunComponentCommand: Command {
    static let name = "run-component"
    static let summary = "evaluate a UNet, ControlNet, ControlLoRA or VAE encoder on saved tensors"

    static let specs = [
        OptionSpec(name: "--component", value: "KIND", help: "unet | controlnet | controllora | vae"),
        OptionSpec(name: "--model", value: "DIR", help: "diffusers folder of the component"),
        OptionSpec(name: "--unet", value: "DIR",
                   help: "UNet folder a ControlLoRA shares its encoder with (controllora only)"),
        OptionSpec(name: "--controlnet", value: "DIR",
                   help: "unet only: run this ControlNet first and feed its residuals"),
        OptionSpec(name: "--controllora", value: "DIR",
                   help: "unet only: run this ControlLoRA (over --model) first"),
        OptionSpec(name: "--lora-weights", value: "FILE",
                   help: "ControlLoRA weights file inside its folder (default: the folder's)"),
        OptionSpec(name: "--variant", value: "NAME", help: "weights variant, e.g. fp16"),
        OptionSpec(name: "--input", value: "FILE", help: "safetensors file with the inputs"),
        OptionSpec(name: "--output", value: "FILE", help: "safetensors file to write"),
        OptionSpec(name: "--stop-after-block", value: "K",
                   help: "unet: run decoder blocks 0...K only (no noise_pred)"),
        OptionSpec(name: "--threads", value: "N", help: "worker threads (default: all cores)"),
    ]

    static let help = helpText(
        usage: "mvad run-component --component KIND --model DIR --input IN --output OUT",
        summary: summary, specs: specs, details: """
        Input tensors (float; F32, F16 or BF16):
          sample                  unet/controlnet/controllora: latent [N, 4, H, W];
                                  vae: image [N, 3, H, W] in [-1, 1]
          timestep                [N] or [1] (broadcast), e.g. 81
          encoder_hidden_states   [N, L, D] or [1, L, D] (broadcast): the prompt embedding
          controlnet_cond         [N, 3, 8H, 8W] condition image in [0, 1]
          conditioning_scale      [1], optional, default 1
        Output tensors (F32):
          noise_pred              unet: predicted noise [N, 4, H, W]
          up_blocks.<i>           unet: output of decoder block i
          down_block_res_samples.<i>, mid_block_res_sample
                                  controlnet/controllora (and unet with a ControlNet):
                                  the residuals added to the UNet's skips and mid block
          latent_mean             vae: mean of the latent distribution
          latent                  vae: mean x scaling_factor, what the UNet sees
        """)

    static func run(_ arguments: [String]) throws {
        let args = try ParsedArguments(arguments, specs: specs, command: name)
        try args.noPositional()
        let component = try args.choice("--component",
                                        from: ["unet", "controlnet", "controllora", "vae"])
        guard let component else {
            throw UsageError(message: "\(name): --component is required")
        }
        let model = try args.required("--model")
        let inputPath = try args.required("--input")
        let outputPath = try args.required("--output")
        let threads = try args.int("--threads", range: 1...256)
        let variant = args.string("--variant")
        let compute = Compute(threads: threads)

        let input = try SafeTensorsFile(path: inputPath)
        var outputs: [(name: String, tensor: Tensor)] = []
        switch component {
        case "vae":
            let vae = try DiffusersModels.vaeEncoder(folder: model, variant: variant)
            let image = try input.tensor("sample")
            let mean = try vae.latentMean(image, compute: compute)
            outputs.append(("latent_mean", mean))
            outputs.append(("latent", try vae.encode(image, compute: compute)))
        case "controlnet", "controllora":
            let net = try loadControl(component, folder: model, unet: args.string("--unet"),
                                      loraFile: args.string("--lora-weights"), variant: variant)
            let residuals = try runControl(net, input)
            outputs += residualOutputs(residuals)
        default:
            let unet = try DiffusersModels.unet(folder: model, variant: variant)
            var residuals: ControlResiduals? = nil
            if let folder = args.string("--controlnet") {
                residuals = try runControl(try DiffusersModels.controlNet(folder: folder), input)
            } else if let folder = args.string("--controllora") {
                let net = try DiffusersModels.controlLoRA(
                    folder: folder, unetFolder: model, weightsFile: args.string("--lora-weights"))
                residuals = try runControl(net, input)
            }
            let (sample, timesteps, context) = try unetInputs(input)
            let stop = try args.int("--stop-after-block", range: 0...16)
            let result = try unet(sample: sample, timesteps: timesteps, context: context,
                                  residuals: residuals, stopAfterDecoderBlock: stop,
                                  compute: compute)
            if let noise = result.noisePrediction { outputs.append(("noise_pred", noise)) }
            for (i, block) in result.decoderBlocks.enumerated() {
                outputs.append(("up_blocks.\(i)", block))
            }
            if let residuals { outputs += residualOutputs(residuals) }
        }
        try SafeTensorsWriter.write(
            outputs, metadata: ["generator": "mvad \(MVADVersion.current) run-component",
                                "component": component], to: outputPath)

        func runControl(_ net: ControlNetModel, _ input: SafeTensorsFile) throws -> ControlResiduals {
            let (sample, timesteps, context) = try unetInputs(input)
            let condition = try input.tensor("controlnet_cond")
            let scale = input.names.contains("conditioning_scale")
                ? try input.tensor("conditioning_scale").scalars.first ?? 1 : 1
            return try net(sample: sample, timesteps: timesteps, context: context,
                           condition: condition, scale: scale, compute: compute)
        }
    }

    private static func loadControl(_ kind: String, folder: String, unet: String?, loraFile: String?,
                                    variant: String?) throws -> ControlNetModel {
        if kind == "controlnet" { return try DiffusersModels.controlNet(folder: folder, variant: variant) }
        guard let unet else {
            throw UsageError(message: "\(name): --component controllora needs --unet DIR, the UNet "
                             + "whose encoder weights the ControlLoRA shares")
        }
        return try DiffusersModels.controlLoRA(folder: folder, unetFolder: unet,
                                               weightsFile: loraFile, variant: variant)
    }

    /// sample, one timestep per image, and the context broadcast to the batch.
    private static func unetInputs(_ input: SafeTensorsFile) throws -> (Tensor, [Float], Tensor) {
        let sample = try input.tensor("sample")
        let n = sample.shape.first ?? 0
        var timesteps = try input.tensor("timestep").scalars
        if timesteps.count == 1 { timesteps = Array(repeating: timesteps[0], count: n) }
        var context = try input.tensor("encoder_hidden_states")
        if context.rank == 3, context.shape[0] == 1, n > 1 {
            let one = context.scalars
            context = Tensor(shape: [n] + context.shape.dropFirst(),
                             scalars: Array((0..<n).map { _ in one }.joined()))
        }
        return (sample, timesteps, context)
    }

    private static func residualOutputs(_ r: ControlResiduals) -> [(name: String, tensor: Tensor)] {
        r.down.enumerated().map { ("down_block_res_samples.\($0)", $1) }
            + [("mid_block_res_sample", r.mid)]
    }
}
