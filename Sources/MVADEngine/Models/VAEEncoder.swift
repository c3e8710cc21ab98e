// The encoder half of diffusers' AutoencoderKL (Encoder + quant_conv). The latent is the mean
// of the latent distribution times the scaling factor: deterministic, no sampling.

/// The VAE's mid-block self-attention (diffusers' Attention with a group norm, one or more
/// heads, biased q/k/v, residual connection).
struct SpatialSelfAttention: Sendable {
    let norm: GroupNorm                  // group_norm
    let query: Linear                    // to_q
    let key: Linear                      // to_k
    let value: Linear                    // to_v
    let output: Linear                   // to_out.0
    let heads: Int

    init(_ m: ModuleLoader, channels: Int, headDim: Int, groups: Int) throws {
        norm = try m.groupNorm("group_norm", channels: channels, groups: groups, eps: 1e-6)
        query = try m.pointwise("to_q", out: channels, in: channels)
        key = try m.pointwise("to_k", out: channels, in: channels)
        value = try m.pointwise("to_v", out: channels, in: channels)
        output = try m.pointwise("to_out.0", out: channels, in: channels)
        heads = max(1, channels / headDim)
    }

    /// x [N, C, H, W] -> [N, C, H, W].
    func callAsFunction(_ x: Tensor, _ c: Compute) -> Tensor {
        let tokens = c.toTokens(c.groupNorm(x, norm))              // [N, L, C]
        let mixed = c.attention(q: c.linear(tokens, query), k: c.linear(tokens, key),
                                v: c.linear(tokens, value), heads: heads)
        var out = c.fromTokens(c.linear(mixed, output), height: x.shape[2], width: x.shape[3])
        c.addInPlace(&out, x)
        return out
    }
}

public struct VAEEncoder: Sendable {
    public let config: VAEConfig
    let convIn: Conv2d                   // encoder.conv_in
    let stages: [(resnets: [ResnetBlock2D], downsampler: Conv2d?)]  // encoder.down_blocks.i
    let midFirst: ResnetBlock2D          // encoder.mid_block.resnets.0
    let midAttention: SpatialSelfAttention?  // encoder.mid_block.attentions.0
    let midSecond: ResnetBlock2D         // encoder.mid_block.resnets.1
    let normOut: GroupNorm               // encoder.conv_norm_out
    let convOut: Conv2d                  // encoder.conv_out
    let quantConv: Conv2d?               // quant_conv, 1x1

    static let component = "AutoencoderKL"

    public init(config: VAEConfig, weights: any WeightSource) throws {
        try config.validate(component: Self.component)
        self.config = config
        let root = ModuleLoader(source: weights, component: Self.component)
        let m = root.child("encoder")
        let channels = config.blockOutChannels
        let groups = config.normNumGroups
        convIn = try m.conv("conv_in", out: channels[0], in: config.inChannels, kernel: 3)

        var built: [(resnets: [ResnetBlock2D], downsampler: Conv2d?)] = []
        var input = channels[0]
        for (i, out) in channels.enumerated() {
            let block = m.child("down_blocks.\(i)")
            let resnets = try (0..<config.layersPerBlock).map {
                try ResnetBlock2D(block.child("resnets.\($0)"), in: $0 == 0 ? input : out, out: out,
                                  timeChannels: nil, groups: groups, eps: 1e-6)
            }
            // Downsample2D with padding 0: F.pad(x, (0, 1, 0, 1)) then a 3x3 stride-2 conv.
            let downsampler: Conv2d? = try i < channels.count - 1 ? {
                var conv = try block.conv("downsamplers.0.conv", out: out, in: out, kernel: 3,
                                          stride: 2, padding: 0)
                conv.padding = (top: 0, left: 0, bottom: 1, right: 1)
                return conv
            }() : nil
            built.append((resnets, downsampler))
            input = out
        }
        stages = built

        let last = channels[channels.count - 1]
        midFirst = try ResnetBlock2D(m.child("mid_block.resnets.0"), in: last, out: last,
                                     timeChannels: nil, groups: groups, eps: 1e-6)
        midAttention = try config.midBlockAddAttention
            ? SpatialSelfAttention(m.child("mid_block.attentions.0"), channels: last,
                                   headDim: last, groups: groups)
            : nil
        midSecond = try ResnetBlock2D(m.child("mid_block.resnets.1"), in: last, out: last,
                                      timeChannels: nil, groups: groups, eps: 1e-6)
        normOut = try m.groupNorm("conv_norm_out", channels: last, groups: groups, eps: 1e-6)
        let moments = 2 * config.latentChannels
        convOut = try m.conv("conv_out", out: moments, in: last, kernel: 3)
        quantConv = try config.useQuantConv
            ? root.conv("quant_conv", out: moments, in: moments, kernel: 1) : nil
    }

    /// Downscale from image to latent.
    public var downscale: Int { 1 << (config.blockOutChannels.count - 1) }

    /// image [N, 3, H, W] in [-1, 1] -> the latent distribution's mean [N, 4, H/8, W/8].
    public func latentMean(_ image: Tensor, compute c: Compute) throws -> Tensor {
        guard image.rank == 4, image.shape[1] == config.inChannels,
              image.shape[2] % downscale == 0, image.shape[3] % downscale == 0 else {
            throw InferenceError.badInput(
                component: Self.component, name: "sample",
                problem: "has shape \(image.shape), expected [N, \(config.inChannels), H, W] "
                    + "with H and W multiples of \(downscale)")
        }
        var h = c.conv2d(image, convIn)
        for stage in stages {
            for resnet in stage.resnets { h = resnet(h, time: nil, c) }
            if let downsampler = stage.downsampler { h = c.conv2d(h, downsampler) }
        }
        h = midFirst(h, time: nil, c)
        if let midAttention { h = midAttention(h, c) }
        h = midSecond(h, time: nil, c)
        h = c.conv2d(c.groupNorm(h, normOut, silu: true), convOut)  // [N, 8, h, w]
        if let quantConv { h = c.conv2d(h, quantConv) }
        return c.sliceChannels(h, 0..<config.latentChannels)        // [N, 4, h, w]
    }

    /// The latent the UNet sees: (mean - shift) * scaling factor.
    public func encode(_ image: Tensor, compute c: Compute) throws -> Tensor {
        let mean = try latentMean(image, compute: c)
        let shift = config.shiftFactor ?? 0
        let scale = config.scalingFactor
        return c.map(mean) { ($0 - shift) * scale }
    }
}
