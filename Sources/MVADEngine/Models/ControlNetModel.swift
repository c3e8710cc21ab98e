// diffusers' ControlNetModel: the UNet's encoder fed with conv_in(sample) plus an embedded
// condition image, whose skips and mid output pass through zero convolutions to become the
// residuals the UNet adds. The ControlLoRA variant is built in ControlNetModel+LoRA.swift.

/// ControlNetConditioningEmbedding: a small conv stack taking the condition image down to
/// the latent resolution.
struct ConditioningEmbedding: Sendable {
    let convIn: Conv2d                   // conv_in, 3x3
    let blocks: [Conv2d]                 // blocks.i, alternating 3x3 and 3x3 stride 2
    let convOut: Conv2d                  // conv_out, 3x3

    init(_ m: ModuleLoader, conditionChannels: Int, channels: [Int], outChannels: Int) throws {
        convIn = try m.conv("conv_in", out: channels[0], in: conditionChannels, kernel: 3)
        var convs: [Conv2d] = []
        for i in 0..<(channels.count - 1) {
            convs.append(try m.conv("blocks.\(2 * i)", out: channels[i], in: channels[i], kernel: 3))
            convs.append(try m.conv("blocks.\(2 * i + 1)", out: channels[i + 1], in: channels[i],
                                    kernel: 3, stride: 2))
        }
        blocks = convs
        convOut = try m.conv("conv_out", out: outChannels, in: channels[channels.count - 1],
                             kernel: 3)
    }

    /// Ratio of the condition image size to the latent size.
    var downscale: Int { 1 << (blocks.count / 2) }

    /// condition [N, 3, 8H, 8W] -> [N, C0, H, W].
    func callAsFunction(_ condition: Tensor, _ c: Compute) -> Tensor {
        var h = c.silu(c.conv2d(condition, convIn))
        for conv in blocks { h = c.silu(c.conv2d(h, conv)) }
        return c.conv2d(h, convOut)
    }
}

public struct ControlNetModel: Sendable {
    public let config: UNetConfig
    let encoder: UNetEncoder
    let conditioning: ConditioningEmbedding  // controlnet_cond_embedding
    let downProjections: [Conv2d]        // controlnet_down_blocks.i, 1x1
    let midProjection: Conv2d            // controlnet_mid_block, 1x1

    static let component = "ControlNetModel"

    /// Builds a ControlNet from its config and weights (a diffusers ControlNetModel folder, or
    /// the merged view of a ControlLoRA).
    public init(config: UNetConfig, weights: any WeightSource) throws {
        try config.validate(component: Self.component, needsDecoder: false)
        let order = config.controlnetConditioningChannelOrder ?? "rgb"
        guard order == "rgb" else {
            throw ModelLoadError.unsupportedConfig(
                component: Self.component, field: "controlnet_conditioning_channel_order",
                found: order, supported: "rgb")
        }
        let m = ModuleLoader(source: weights, component: Self.component)
        self.config = config
        encoder = try UNetEncoder(m, config: config)
        let embeddingChannels = config.conditioningEmbeddingOutChannels ?? [16, 32, 96, 256]
        guard !embeddingChannels.isEmpty else {
            throw ModelLoadError.invalidConfig(
                component: Self.component, field: "conditioning_embedding_out_channels",
                problem: "is empty")
        }
        conditioning = try ConditioningEmbedding(
            m.child("controlnet_cond_embedding"), conditionChannels: config.conditioningChannels ?? 3,
            channels: embeddingChannels, outChannels: config.blockOutChannels[0])
        downProjections = try encoder.skipChannels.enumerated().map { i, channels in
            try m.conv("controlnet_down_blocks.\(i)", out: channels, in: channels, kernel: 1)
        }
        let last = config.blockOutChannels[config.blockCount - 1]
        midProjection = try m.conv("controlnet_mid_block", out: last, in: last, kernel: 1)
    }

    /// The timesteps a converter folded the time embedding for (a model then runs only
    /// these), or nil when it computes the embedding for any timestep.
    public var foldedTimesteps: [Float]? { encoder.foldedTimesteps }

    /// The residuals for one UNet evaluation. sample [N, 4, H, W], condition
    /// [N, 3, H * s, W * s] with s the embedding's downscale (8 for SD), values in [0, 1].
    public func callAsFunction(
        sample: Tensor, timesteps: [Float], context: Tensor, condition: Tensor,
        scale: Float = 1, compute c: Compute
    ) throws -> ControlResiduals {
        try encoder.checkInputs(sample: sample, timesteps: timesteps, context: context,
                                component: Self.component)
        let s = conditioning.downscale
        let expected = [sample.shape[0], config.conditioningChannels ?? 3,
                        sample.shape[2] * s, sample.shape[3] * s]
        guard condition.shape == expected else {
            throw InferenceError.badInput(
                component: Self.component, name: "controlnet_cond",
                problem: "has shape \(condition.shape), expected \(expected)")
        }
        let time = try encoder.timeInput(timesteps, component: Self.component, c)
        var h = c.conv2d(sample, encoder.convIn)                   // [N, C0, H, W]
        c.addInPlace(&h, conditioning(condition, c))
        let (mid, skips) = encoder.encode(h, time: time, context: context, c)

        let down = zip(skips, downProjections).map { skip, projection in
            c.scaled(c.conv2d(skip, projection), by: scale)
        }
        let midResidual = c.scaled(c.conv2d(mid, midProjection), by: scale)
        return ControlResiduals(down: down, mid: midResidual)
    }

}
