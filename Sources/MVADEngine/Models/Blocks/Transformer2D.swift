// Spatial transformer of the SD UNet: diffusers' Transformer2DModel (continuous input) with
// BasicTransformerBlock (self-attention, cross-attention, GEGLU feed-forward).

/// Where a cross-attention's keys and values come from.
enum KeyValueSource: Sendable {
    /// to_k and to_v applied to the context at every call.
    case projected(key: Linear, value: Linear)
    /// context W_k^T and context W_v^T [Lc, D] for the model's prompt, folded by the converter;
    /// the same for every image of a batch.
    case folded(key: Tensor, value: Tensor)
}

/// diffusers' Attention as used by BasicTransformerBlock: q/k/v without bias, output with bias.
struct CrossAttention: Sendable {
    let query: Linear                // to_q
    let keyValue: KeyValueSource     // to_k, to_v, or folded_key, folded_value
    let output: Linear               // to_out.0
    let heads: Int

    /// `foldable`: a cross-attention (attn2), which loads folded_key / folded_value instead of
    /// to_k / to_v when the weights hold them.
    init(_ m: ModuleLoader, dim: Int, contextDim: Int, heads: Int, foldable: Bool = false) throws {
        query = try m.linear("to_q", out: dim, in: dim, bias: false)
        let keyName = String(FoldedConstants.keySuffix.dropFirst())
        let valueName = String(FoldedConstants.valueSuffix.dropFirst())
        if foldable, m.has(keyName) {
            let tokens = m.source.shape(m.key(keyName))?.first ?? 0
            keyValue = .folded(key: try m.tensor(keyName, shape: [tokens, dim]),
                               value: try m.tensor(valueName, shape: [tokens, dim]))
        } else {
            keyValue = .projected(key: try m.linear("to_k", out: dim, in: contextDim, bias: false),
                                  value: try m.linear("to_v", out: dim, in: contextDim,
                                                      bias: false))
        }
        output = try m.linear("to_out.0", out: dim, in: dim)
        self.heads = heads
    }

    /// x [N, L, D], context [N, Lc, Dc] (x itself for self-attention) -> [N, L, D]. With folded
    /// keys and values the context is not used: the prompt was fixed by the converter.
    func callAsFunction(_ x: Tensor, context: Tensor, _ c: Compute) -> Tensor {
        let q = c.linear(x, query)                                 // [N, L, D]
        let k: Tensor, v: Tensor
        switch keyValue {
        case let .projected(key, value):
            k = c.linear(context, key)                             // [N, Lc, D]
            v = c.linear(context, value)                           // [N, Lc, D]
        case let .folded(key, value):
            k = Self.broadcast(key, to: x.shape[0])                // [N, Lc, D]
            v = Self.broadcast(value, to: x.shape[0])              // [N, Lc, D]
        }
        let mixed = c.attention(q: q, k: k, v: v, heads: heads)    // [N, L, D]
        return c.linear(mixed, output)                             // [N, L, D]
    }

    /// x [Lc, D] repeated n times -> [n, Lc, D].
    static func broadcast(_ x: Tensor, to n: Int) -> Tensor {
        var scalars = [Float]()
        scalars.reserveCapacity(n * x.count)
        for _ in 0..<n { scalars.append(contentsOf: x.scalars) }
        return Tensor(shape: [n] + x.shape, scalars: scalars)
    }
}

/// BasicTransformerBlock: pre-norm self-attention, cross-attention and GEGLU feed-forward.
struct BasicTransformerBlock: Sendable {
    let norm1: LayerNorm             // norm1
    let selfAttention: CrossAttention   // attn1
    let norm2: LayerNorm             // norm2
    let crossAttention: CrossAttention  // attn2
    let norm3: LayerNorm             // norm3
    let feedForwardIn: Linear        // ff.net.0.proj, D -> 2 * 4D
    let feedForwardOut: Linear       // ff.net.2, 4D -> D

    init(_ m: ModuleLoader, dim: Int, contextDim: Int, heads: Int) throws {
        norm1 = try m.layerNorm("norm1", dim: dim, eps: 1e-5)
        selfAttention = try CrossAttention(m.child("attn1"), dim: dim, contextDim: dim, heads: heads)
        norm2 = try m.layerNorm("norm2", dim: dim, eps: 1e-5)
        crossAttention = try CrossAttention(m.child("attn2"), dim: dim, contextDim: contextDim,
                                            heads: heads, foldable: true)
        norm3 = try m.layerNorm("norm3", dim: dim, eps: 1e-5)
        feedForwardIn = try m.linear("ff.net.0.proj", out: 8 * dim, in: dim)
        feedForwardOut = try m.linear("ff.net.2", out: dim, in: 4 * dim)
    }

    /// x [N, L, D], context [N, Lc, Dc] -> [N, L, D].
    func callAsFunction(_ x: Tensor, context: Tensor, _ c: Compute) -> Tensor {
        var h = x
        let normed1 = c.layerNorm(h, norm1)
        c.addInPlace(&h, selfAttention(normed1, context: normed1, c))

        c.addInPlace(&h, crossAttention(c.layerNorm(h, norm2), context: context, c))

        let gated = c.gegluGate(c.linear(c.layerNorm(h, norm3), feedForwardIn))  // [N, L, 4D]
        c.addInPlace(&h, c.linear(gated, feedForwardOut))
        return h
    }
}

/// Transformer2DModel: group norm, projection to tokens, transformer blocks, projection back,
/// residual. proj_in/proj_out are 1x1 convolutions or linear layers (use_linear_projection);
/// both are the same per-token matrix product, so both load as Linear.
struct Transformer2D: Sendable {
    let norm: GroupNorm              // norm
    let projectIn: Linear            // proj_in
    let blocks: [BasicTransformerBlock]  // transformer_blocks.i
    let projectOut: Linear           // proj_out

    init(_ m: ModuleLoader, channels: Int, heads: Int, contextDim: Int, depth: Int,
         groups: Int) throws {
        norm = try m.groupNorm("norm", channels: channels, groups: groups, eps: 1e-6)
        projectIn = try m.pointwise("proj_in", out: channels, in: channels)
        blocks = try (0..<depth).map {
            try BasicTransformerBlock(m.child("transformer_blocks.\($0)"), dim: channels,
                                      contextDim: contextDim, heads: heads)
        }
        projectOut = try m.pointwise("proj_out", out: channels, in: channels)
    }

    /// x [N, C, H, W], context [N, Lc, Dc] -> [N, C, H, W].
    func callAsFunction(_ x: Tensor, context: Tensor, _ c: Compute) -> Tensor {
        let (height, width) = (x.shape[2], x.shape[3])
        var tokens = c.toTokens(c.groupNorm(x, norm))              // [N, L, C]
        tokens = c.linear(tokens, projectIn)
        for block in blocks { tokens = block(tokens, context: context, c) }
        tokens = c.linear(tokens, projectOut)                      // [N, L, C]
        var out = c.fromTokens(tokens, height: height, width: width)  // [N, C, H, W]
        c.addInPlace(&out, x)
        return out
    }
}
