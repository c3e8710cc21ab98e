// The UNet's stages: diffusers' CrossAttnDownBlock2D / DownBlock2D, UNetMidBlock2DCrossAttn,
// and CrossAttnUpBlock2D / UpBlock2D. A block without attentions is the plain variant.

/// Settings shared by every block of one network.
struct BlockSettings {
    let timeChannels: Int
    let groups: Int
    let eps: Float
    /// The number of folded timesteps when the ResNets load folded time tables.
    let foldedSteps: Int?
}

/// CrossAttnDownBlock2D (with attentions) or DownBlock2D (without).
struct DownBlock: Sendable {
    let resnets: [ResnetBlock2D]         // resnets.i
    let attentions: [Transformer2D]      // attentions.i
    let downsampler: Conv2d?             // downsamplers.0.conv, 3x3 stride 2

    init(_ m: ModuleLoader, in input: Int, out: Int, layers: Int, attention: Bool, heads: Int,
         contextDim: Int, depth: Int, downsample: Bool, padding: Int, s: BlockSettings) throws {
        resnets = try (0..<layers).map {
            try ResnetBlock2D(m.child("resnets.\($0)"), in: $0 == 0 ? input : out, out: out,
                              timeChannels: s.timeChannels, groups: s.groups, eps: s.eps,
                              foldedSteps: s.foldedSteps)
        }
        attentions = try attention ? (0..<layers).map {
            try Transformer2D(m.child("attentions.\($0)"), channels: out, heads: heads,
                              contextDim: contextDim, depth: depth, groups: s.groups)
        } : []
        downsampler = try downsample
            ? m.conv("downsamplers.0.conv", out: out, in: out, kernel: 3, stride: 2, padding: padding)
            : nil
    }

    /// x [N, Cin, H, W] -> output [N, Cout, H', W'] and the skip tensors it leaves behind.
    func callAsFunction(_ x: Tensor, time: TimeInput, context: Tensor, _ c: Compute)
        -> (Tensor, [Tensor]) {
        var h = x
        var skips: [Tensor] = []
        for (i, resnet) in resnets.enumerated() {
            h = resnet(h, time: time, c)
            if !attentions.isEmpty { h = attentions[i](h, context: context, c) }
            skips.append(h)
        }
        if let downsampler {
            h = c.conv2d(h, downsampler)
            skips.append(h)
        }
        return (h, skips)
    }
}

/// UNetMidBlock2DCrossAttn: resnet, transformer, resnet.
struct MidBlock: Sendable {
    let first: ResnetBlock2D             // resnets.0
    let attention: Transformer2D         // attentions.0
    let second: ResnetBlock2D            // resnets.1

    init(_ m: ModuleLoader, channels: Int, heads: Int, contextDim: Int, depth: Int,
         s: BlockSettings) throws {
        first = try ResnetBlock2D(m.child("resnets.0"), in: channels, out: channels,
                                  timeChannels: s.timeChannels, groups: s.groups, eps: s.eps,
                                  foldedSteps: s.foldedSteps)
        attention = try Transformer2D(m.child("attentions.0"), channels: channels, heads: heads,
                                      contextDim: contextDim, depth: depth, groups: s.groups)
        second = try ResnetBlock2D(m.child("resnets.1"), in: channels, out: channels,
                                   timeChannels: s.timeChannels, groups: s.groups, eps: s.eps,
                                   foldedSteps: s.foldedSteps)
    }

    func callAsFunction(_ x: Tensor, time: TimeInput, context: Tensor, _ c: Compute) -> Tensor {
        var h = first(x, time: time, c)
        h = attention(h, context: context, c)
        return second(h, time: time, c)
    }
}

/// CrossAttnUpBlock2D (with attentions) or UpBlock2D (without): each resnet takes the
/// previous output concatenated with one skip tensor from the encoder.
struct UpBlock: Sendable {
    let resnets: [ResnetBlock2D]         // resnets.i
    let attentions: [Transformer2D]      // attentions.i
    let upsampler: Conv2d?               // upsamplers.0.conv, after nearest 2x

    /// `skipChannels[i]` is the channel count of the skip tensor resnet i consumes.
    init(_ m: ModuleLoader, previous: Int, out: Int, skipChannels: [Int], attention: Bool,
         heads: Int, contextDim: Int, depth: Int, upsample: Bool, s: BlockSettings) throws {
        resnets = try skipChannels.enumerated().map { i, skip in
            try ResnetBlock2D(m.child("resnets.\(i)"), in: (i == 0 ? previous : out) + skip,
                              out: out, timeChannels: s.timeChannels, groups: s.groups, eps: s.eps,
                                        foldedSteps: s.foldedSteps)
        }
        attentions = try attention ? (0..<skipChannels.count).map {
            try Transformer2D(m.child("attentions.\($0)"), channels: out, heads: heads,
                              contextDim: contextDim, depth: depth, groups: s.groups)
        } : []
        upsampler = try upsample ? m.conv("upsamplers.0.conv", out: out, in: out, kernel: 3) : nil
    }

    /// Consumes `resnets.count` skips from the end of `skips` (last one first).
    func callAsFunction(_ x: Tensor, skips: inout [Tensor], time: TimeInput, context: Tensor,
                        _ c: Compute) -> Tensor {
        var h = x
        for (i, resnet) in resnets.enumerated() {
            let skip = skips.removeLast()
            h = resnet(c.concatChannels([h, skip]), time: time, c)
            if !attentions.isEmpty { h = attentions[i](h, context: context, c) }
        }
        if let upsampler {
            h = c.conv2d(c.upsampleNearest2x(h), upsampler)
        }
        return h
    }
}
