// The half of the SD UNet that the UNet and the ControlNet share: time embedding, conv_in,
// down blocks and mid block (diffusers' UNet2DConditionModel / ControlNetModel encoders).

import Foundation

struct UNetEncoder: Sendable {
    let config: UNetConfig
    let timeLinear1: Linear              // time_embedding.linear_1
    let timeLinear2: Linear              // time_embedding.linear_2
    let convIn: Conv2d                   // conv_in, 3x3
    let downBlocks: [DownBlock]          // down_blocks.i
    let mid: MidBlock                    // mid_block
    let settings: BlockSettings

    init(_ m: ModuleLoader, config: UNetConfig) throws {
        self.config = config
        let channels = config.blockOutChannels
        let timeChannels = config.timeEmbeddingChannels
        timeLinear1 = try m.linear("time_embedding.linear_1", out: timeChannels, in: channels[0])
        timeLinear2 = try m.linear("time_embedding.linear_2", out: timeChannels, in: timeChannels)
        convIn = try m.conv("conv_in", out: channels[0], in: config.inChannels, kernel: 3)
        let s = BlockSettings(timeChannels: timeChannels, groups: config.groups,
                              eps: config.normEps)
        settings = s

        let heads = config.headsPerBlock
        let depths = config.transformerDepths
        let contexts = config.contextDims
        let layers = config.layersPerDownBlock
        var blocks: [DownBlock] = []
        var input = channels[0]
        for (i, type) in config.downBlockTypes.enumerated() {
            blocks.append(try DownBlock(
                m.child("down_blocks.\(i)"), in: input, out: channels[i], layers: layers[i],
                attention: type == "CrossAttnDownBlock2D", heads: heads[i],
                contextDim: contexts[i], depth: depths[i], downsample: i < channels.count - 1,
                padding: config.downsamplePadding, s: s))
            input = channels[i]
        }
        downBlocks = blocks
        mid = try MidBlock(m.child("mid_block"), channels: channels[channels.count - 1],
                           heads: heads[heads.count - 1], contextDim: contexts[contexts.count - 1],
                           depth: depths[depths.count - 1], s: s)
    }

    /// Channel counts of the skip tensors the down path leaves, in the order it leaves them.
    var skipChannels: [Int] {
        var result = [config.blockOutChannels[0]]
        for (i, block) in downBlocks.enumerated() {
            let out = config.blockOutChannels[i]
            result += Array(repeating: out, count: block.resnets.count)
            if block.downsampler != nil { result.append(out) }
        }
        return result
    }

    /// silu(time_embedding(time_proj(t))) for each image: timesteps [N] -> [N, T]. The SiLU is
    /// the one every ResNet block applies before its time projection.
    func activatedTimeEmbedding(_ timesteps: [Float], _ c: Compute) -> Tensor {
        let features = TimestepFeatures.embed(
            timesteps, dim: config.blockOutChannels[0], flipSinToCos: config.flipSinToCos,
            freqShift: Float(config.freqShift))                    // [N, C0]
        let hidden = c.silu(c.linear(features, timeLinear1))       // [N, T]
        return c.silu(c.linear(hidden, timeLinear2))               // [N, T]
    }

    /// Runs the down blocks and the mid block from h = conv_in(sample) (plus any condition).
    /// Returns the mid-block output and every skip tensor, in order.
    func encode(_ h0: Tensor, time: Tensor, context: Tensor, _ c: Compute)
        -> (mid: Tensor, skips: [Tensor]) {
        var h = h0
        var skips = [h0]
        for block in downBlocks {
            let (out, blockSkips) = block(h, time: time, context: context, c)
            h = out
            skips += blockSkips
        }
        return (mid(h, time: time, context: context, c), skips)
    }

    /// Checks the shapes of the inputs common to UNet and ControlNet.
    func checkInputs(sample: Tensor, timesteps: [Float], context: Tensor,
                     component: String) throws {
        guard sample.rank == 4, sample.shape[1] == config.inChannels else {
            throw InferenceError.badInput(
                component: component, name: "sample",
                problem: "has shape \(sample.shape), expected [N, \(config.inChannels), H, W]")
        }
        let n = sample.shape[0]
        let factor = 1 << (config.blockCount - 1)
        guard sample.shape[2] % factor == 0, sample.shape[3] % factor == 0 else {
            throw InferenceError.badInput(
                component: component, name: "sample",
                problem: "has spatial size \(sample.shape[2])x\(sample.shape[3]); both must be "
                    + "multiples of \(factor) for \(config.blockCount) blocks")
        }
        guard timesteps.count == n else {
            throw InferenceError.badInput(
                component: component, name: "timestep",
                problem: "has \(timesteps.count) values for a batch of \(n)")
        }
        let contextDim = config.contextDims[0]
        guard context.rank == 3, context.shape[0] == n, context.shape[2] == contextDim else {
            throw InferenceError.badInput(
                component: component, name: "encoder_hidden_states",
                problem: "has shape \(context.shape), expected [\(n), L, \(contextDim)]")
        }
    }
}

/// Inputs a model cannot run on.
public enum InferenceError: Error, CustomStringConvertible, Equatable {
    case badInput(component: String, name: String, problem: String)

    public var description: String {
        switch self {
        case let .badInput(component, name, problem):
            return "\(component): input '\(name)' \(problem)"
        }
    }
}
