// The SD 1.x UNet: diffusers' UNet2DConditionModel, returning the noise prediction and every
// decoder block's output, optionally stopping after a chosen decoder block.

/// Residuals a ControlNet adds to the UNet (diffusers' down_block_additional_residuals and
/// mid_block_additional_residual).
public struct ControlResiduals: Sendable {
    /// One per skip tensor of the encoder, in order.
    public var down: [Tensor]
    public var mid: Tensor

    public init(down: [Tensor], mid: Tensor) {
        self.down = down
        self.mid = mid
    }
}

/// What one UNet evaluation produced.
public struct UNetOutput: Sendable {
    /// The predicted noise [N, Cout, H, W]; nil when the evaluation stopped early.
    public var noisePrediction: Tensor?
    /// Output of up_blocks[i] for each decoder block that ran.
    public var decoderBlocks: [Tensor]
}

public struct UNet2DConditionModel: Sendable {
    public let config: UNetConfig
    let encoder: UNetEncoder
    let upBlocks: [UpBlock]              // up_blocks.i
    let normOut: GroupNorm               // conv_norm_out
    let convOut: Conv2d                  // conv_out, 3x3

    static let component = "UNet2DConditionModel"

    /// Builds the UNet from `config`, loading and checking every weight from `weights`.
    public init(config: UNetConfig, weights: any WeightSource) throws {
        try config.validate(component: Self.component, needsDecoder: true)
        let m = ModuleLoader(source: weights, component: Self.component)
        self.config = config
        encoder = try UNetEncoder(m, config: config)

        let channels = Array(config.blockOutChannels.reversed())
        let heads = Array(config.headsPerBlock.reversed())
        let depths = Array(config.transformerDepths.reversed())
        let contexts = Array(config.contextDims.reversed())
        let layers = Array(config.layersPerDownBlock.reversed())
        var skips = encoder.skipChannels
        var blocks: [UpBlock] = []
        var previous = channels[0]
        for (i, type) in (config.upBlockTypes ?? []).enumerated() {
            let count = layers[i] + 1
            let consumed = Array(skips.suffix(count).reversed())
            skips.removeLast(count)
            blocks.append(try UpBlock(
                m.child("up_blocks.\(i)"), previous: previous, out: channels[i],
                skipChannels: consumed, attention: type == "CrossAttnUpBlock2D", heads: heads[i],
                contextDim: contexts[i], depth: depths[i], upsample: i < channels.count - 1,
                s: encoder.settings))
            previous = channels[i]
        }
        upBlocks = blocks
        let first = config.blockOutChannels[0]
        normOut = try m.groupNorm("conv_norm_out", channels: first, groups: config.groups,
                                  eps: config.normEps)
        convOut = try m.conv("conv_out", out: config.outChannels ?? 4, in: first, kernel: 3)
    }

    /// The timesteps a converter folded the time embedding for (a model then runs only
    /// these), or nil when it computes the embedding for any timestep.
    public var foldedTimesteps: [Float]? { encoder.foldedTimesteps }

    /// Number of decoder blocks (up_blocks).
    public var decoderBlockCount: Int { upBlocks.count }

    /// One evaluation. sample [N, 4, H, W], one timestep per image, context [N, L, D].
    /// A folded model (weights converted by `mvad convert` without --no-fold) uses its stored
    /// prompt keys and values in every cross-attention instead of `context` (still checked for
    /// shape), and accepts only its folded timesteps.
    /// With `stopAfterDecoderBlock` = k only up_blocks[0...k] run and no noise is predicted.
    public func callAsFunction(
        sample: Tensor, timesteps: [Float], context: Tensor, residuals: ControlResiduals? = nil,
        stopAfterDecoderBlock: Int? = nil, compute c: Compute
    ) throws -> UNetOutput {
        try encoder.checkInputs(sample: sample, timesteps: timesteps, context: context,
                                component: Self.component)
        let lastBlock = stopAfterDecoderBlock ?? (upBlocks.count - 1)
        guard (0..<upBlocks.count).contains(lastBlock) else {
            throw InferenceError.badInput(
                component: Self.component, name: "stopAfterDecoderBlock",
                problem: "is \(lastBlock); the UNet has decoder blocks 0..<\(upBlocks.count)")
        }
        let time = try encoder.timeInput(timesteps, component: Self.component, c)
        var (h, skips) = encoder.encode(c.conv2d(sample, encoder.convIn), time: time,
                                        context: context, c)
        if let residuals {
            try add(residuals, to: &skips, mid: &h, c)
        }

        var decoderOutputs: [Tensor] = []
        for block in upBlocks[0...lastBlock] {
            h = block(h, skips: &skips, time: time, context: context, c)
            decoderOutputs.append(h)
        }
        guard lastBlock == upBlocks.count - 1 else {
            return UNetOutput(noisePrediction: nil, decoderBlocks: decoderOutputs)
        }
        let out = c.conv2d(c.groupNorm(h, normOut, silu: true), convOut)  // [N, 4, H, W]
        return UNetOutput(noisePrediction: out, decoderBlocks: decoderOutputs)
    }

    private func add(_ residuals: ControlResiduals, to skips: inout [Tensor], mid: inout Tensor,
                     _ c: Compute) throws {
        guard residuals.down.count == skips.count else {
            throw InferenceError.badInput(
                component: Self.component, name: "down_block_additional_residuals",
                problem: "has \(residuals.down.count) tensors; the UNet has \(skips.count) skips")
        }
        for i in skips.indices {
            guard residuals.down[i].shape == skips[i].shape else {
                throw InferenceError.badInput(
                    component: Self.component, name: "down_block_additional_residuals.\(i)",
                    problem: "has shape \(residuals.down[i].shape), expected \(skips[i].shape)")
            }
            c.addInPlace(&skips[i], residuals.down[i])
        }
        guard residuals.mid.shape == mid.shape else {
            throw InferenceError.badInput(
                component: Self.component, name: "mid_block_additional_residual",
                problem: "has shape \(residuals.mid.shape), expected \(mid.shape)")
        }
        c.addInPlace(&mid, residuals.mid)
    }
}
