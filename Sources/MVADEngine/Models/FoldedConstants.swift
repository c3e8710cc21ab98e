// What is constant for a trained model, folded: the prompt's cross-attention keys and values
// and each ResNet's time projection at the stored timesteps. The names they are stored under,
// the weights they replace, and the computation (the runtime's own ops, in f32).
//
// Stored names, relative to a UNet / ControlNet component (M = a cross-attention module
// `...transformer_blocks.j.attn2`, R = a ResNet `...resnets.j` with a time projection):
//   M.folded_key                       [Lc, D]  context W_k^T (attn2 has no k/v bias)
//   M.folded_value                     [Lc, D]  context W_v^T
//   time_embedding.folded_timesteps    [S]      the timesteps the tables hold, ascending
//   R.time_emb_proj.folded             [S, Cout] time_emb_proj(silu(time_embedding(t_s)))
// They replace M.to_k.weight, M.to_v.weight, time_embedding.linear_{1,2}.{weight,bias} and
// R.time_emb_proj.{weight,bias}.

import Foundation

public enum FoldedConstants {
    public static let keySuffix = ".folded_key"
    public static let valueSuffix = ".folded_value"
    public static let timestepsName = "time_embedding.folded_timesteps"
    public static let tableSuffix = ".time_emb_proj.folded"

    /// True for the name of a folded tensor.
    public static func isFolded(_ name: String) -> Bool {
        name == timestepsName || name.hasSuffix(tableSuffix)
            || (name.contains(".attn2.")
                && (name.hasSuffix(keySuffix) || name.hasSuffix(valueSuffix)))
    }

    /// True for a weight that a folded model no longer needs (`name` a full weight key such
    /// as "mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight").
    public static func isReplaced(_ name: String) -> Bool {
        if name.hasPrefix("time_embedding.linear_") { return true }
        if name.hasSuffix(".time_emb_proj.weight") || name.hasSuffix(".time_emb_proj.bias") {
            return true
        }
        return name.hasSuffix(".attn2.to_k.weight") || name.hasSuffix(".attn2.to_v.weight")
    }

    /// The folded tensors of one UNet or ControlNet and the stored names they replace.
    public struct Folded: Sendable {
        /// Name (relative to the component) and value, in name order.
        public var tensors: [(name: String, tensor: Tensor)]
        /// The source names the folded model does not need, sorted.
        public var replaced: [String]
    }

    /// Folds the constants of the UNet or ControlNet in `source` (float weights, e.g. the
    /// merged view of a ControlLoRA) for the prompt `context` [1, Lc, Dc] and `timesteps`
    /// (ascending, distinct). Computed with the ops the unfolded model runs.
    public static func fold(source: any WeightSource, config: UNetConfig, context: Tensor,
                            timesteps: [Float], component: String,
                            compute c: Compute = Compute(threads: 1)) throws -> Folded {
        precondition(context.rank == 3 && context.shape[0] == 1, "context must be [1, Lc, Dc]")
        precondition(!timesteps.isEmpty && zip(timesteps, timesteps.dropFirst()).allSatisfy(<),
                     "fold timesteps must ascend: \(timesteps)")
        let m = ModuleLoader(source: source, component: component)
        let names = source.names.sorted()
        var tensors: [(name: String, tensor: Tensor)] = []

        let keySuffix = ".attn2.to_k.weight"
        for name in names where name.hasSuffix(keySuffix) {
            let module = String(name.dropLast(".to_k.weight".count))
            let (key, value) = try keyValue(m.child(module), context: context, c)
            tensors.append((module + Self.keySuffix, key))
            tensors.append((module + Self.valueSuffix, value))
        }

        let time = try TimeEmbedding(m, config: config)
        let activated = time.activated(timesteps, c)               // [S, T]
        tensors.append((timestepsName, Tensor(shape: [timesteps.count], scalars: timesteps)))
        let projection = ".time_emb_proj.weight"
        for name in names where name.hasSuffix(projection) {
            let resnet = String(name.dropLast(projection.count))
            guard let shape = source.shape(name), shape.count == 2 else {
                throw ModelLoadError.shapeMismatch(
                    component: component, name: name, found: source.shape(name) ?? [],
                    expected: [-1, time.channels])
            }
            let layer = try m.child(resnet).linear("time_emb_proj", out: shape[0],
                                                   in: time.channels)
            tensors.append((resnet + tableSuffix, c.linear(activated, layer)))  // [S, Cout]
        }
        return Folded(tensors: tensors.sorted { $0.name < $1.name },
                      replaced: names.filter(isReplaced))
    }

    /// K and V [Lc, D] of the cross-attention module `m` for `context` [1, Lc, Dc].
    static func keyValue(_ m: ModuleLoader, context: Tensor, _ c: Compute) throws
        -> (Tensor, Tensor) {
        let contextDim = context.shape[2]
        guard let shape = m.source.shape(m.key("to_k.weight")), shape.count == 2 else {
            throw ModelLoadError.missingTensor(component: m.component, name: m.key("to_k.weight"))
        }
        guard shape[1] == contextDim else {
            throw ModelLoadError.shapeMismatch(
                component: m.component, name: m.key("to_k.weight"), found: shape,
                expected: [shape[0], contextDim])
        }
        let key = try m.linear("to_k", out: shape[0], in: contextDim, bias: false)
        let value = try m.linear("to_v", out: shape[0], in: contextDim, bias: false)
        precondition(key.quantized == nil && value.quantized == nil,
                     "folding needs float weights")
        let rows = [context.shape[1], shape[0]]
        return (c.linear(context, key).reshaped(rows), c.linear(context, value).reshaped(rows))
    }
}

/// diffusers' Timesteps + TimestepEmbedding (linear_1, SiLU, linear_2), followed by the SiLU
/// each ResNet applies before its time projection.
struct TimeEmbedding: Sendable {
    let linear1: Linear                  // time_embedding.linear_1
    let linear2: Linear                  // time_embedding.linear_2
    let featureDim: Int                  // block_out_channels[0]
    let flipSinToCos: Bool
    let freqShift: Float

    init(_ m: ModuleLoader, config: UNetConfig) throws {
        let channels = config.timeEmbeddingChannels
        featureDim = config.blockOutChannels[0]
        linear1 = try m.linear("time_embedding.linear_1", out: channels, in: featureDim)
        linear2 = try m.linear("time_embedding.linear_2", out: channels, in: channels)
        flipSinToCos = config.flipSinToCos
        freqShift = Float(config.freqShift)
    }

    /// Width T of the embedding.
    var channels: Int { linear2.outFeatures }

    /// silu(time_embedding(time_proj(t))) for each timestep: [N] -> [N, T].
    func activated(_ timesteps: [Float], _ c: Compute) -> Tensor {
        let features = TimestepFeatures.embed(
            timesteps, dim: featureDim, flipSinToCos: flipSinToCos,
            freqShift: freqShift)                                  // [N, C0]
        let hidden = c.silu(c.linear(features, linear1))           // [N, T]
        return c.silu(c.linear(hidden, linear2))                   // [N, T]
    }
}
