// The half of the SD UNet that the UNet and the ControlNet share: time embedding, conv_in,
// down blocks and mid block (diffusers' UNet2DConditionModel / ControlNetModel encoders).

import Foundation

/// How a UNet or ControlNet conditions on the timestep.
enum TimeConditioning: Sendable {
    /// The time embedding (time_embedding.linear_1, linear_2) computed at every call.
    case computed(TimeEmbedding)
    /// Tables folded by the converter for these timesteps (time_embedding.folded_timesteps);
    /// the ResNets hold one row per timestep.
    case folded(timesteps: [Float])
}

struct UNetEncoder: Sendable {
    let config: UNetConfig
    let time: TimeConditioning           // time_embedding, or its folded timesteps
    let convIn: Conv2d                   // conv_in, 3x3
    let downBlocks: [DownBlock]          // down_blocks.i
    let mid: MidBlock                    // mid_block
    let settings: BlockSettings

    init(_ m: ModuleLoader, config: UNetConfig) throws {
        self.config = config
        let channels = config.blockOutChannels
        let timeChannels = config.timeEmbeddingChannels
        var foldedSteps: Int? = nil
        if m.has(FoldedConstants.timestepsName) {
            let steps = m.source.shape(m.key(FoldedConstants.timestepsName))?.first ?? 0
            let stored = try m.tensor(FoldedConstants.timestepsName, shape: [steps]).scalars
            guard steps > 0, zip(stored, stored.dropFirst()).allSatisfy(<) else {
                throw ModelLoadError.invalidConfig(
                    component: m.component, field: FoldedConstants.timestepsName,
                    problem: "holds \(stored); folded timesteps must be distinct and ascending")
            }
            time = .folded(timesteps: stored)
            foldedSteps = steps
        } else {
            time = .computed(try TimeEmbedding(m, config: config))
        }
        convIn = try m.conv("conv_in", out: channels[0], in: config.inChannels, kernel: 3)
        let s = BlockSettings(timeChannels: timeChannels, groups: config.groups,
                              eps: config.normEps, foldedSteps: foldedSteps)
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

    /// The timesteps of the folded time tables, nil when the embedding is computed.
    var foldedTimesteps: [Float]? {
        if case let .folded(timesteps) = time { return timesteps }
        return nil
    }

    /// The time input of every ResNet for one timestep per image: silu(temb(t)) [N, T], or
    /// the rows of the folded tables. A timestep the tables do not hold is an error.
    func timeInput(_ timesteps: [Float], component: String, _ c: Compute) throws -> TimeInput {
        switch time {
        case let .computed(embedding):
            return .activated(embedding.activated(timesteps, c))   // [N, T]
        case let .folded(stored):
            return .rows(try timesteps.map { t in
                guard let row = stored.firstIndex(of: t) else {
                    throw InferenceError.unfoldedTimestep(component: component, timestep: t,
                                                          stored: stored)
                }
                return row
            })
        }
    }

    /// Runs the down blocks and the mid block from h = conv_in(sample) (plus any condition).
    /// Returns the mid-block output and every skip tensor, in order.
    func encode(_ h0: Tensor, time: TimeInput, context: Tensor, _ c: Compute)
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
    /// A folded model was asked for a timestep whose time tables the converter did not store.
    case unfoldedTimestep(component: String, timestep: Float, stored: [Float])

    public var description: String {
        switch self {
        case let .badInput(component, name, problem):
            return "\(component): input '\(name)' \(problem)"
        case let .unfoldedTimestep(component, timestep, stored):
            let list = stored.map { String(format: "%g", $0) }.joined(separator: ", ")
            return "\(component): timestep \(String(format: "%g", timestep)) was not folded "
                + "into this pack, which holds the time tables of timesteps [\(list)]; convert "
                + "the model again with these timesteps in settings.json, or with --no-fold"
        }
    }
}
