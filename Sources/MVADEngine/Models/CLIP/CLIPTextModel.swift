// The text encoder of Stable Diffusion: transformers' CLIPTextModel (CLIPTextTransformer:
// embeddings, pre-LN encoder layers with causal self-attention, final layer norm), returning
// last_hidden_state.

/// One CLIPEncoderLayer: x + attn(layer_norm1(x)), then h + mlp(layer_norm2(h)).
struct CLIPEncoderLayer: Sendable {
    let norm1: LayerNorm             // layer_norm1
    let query: Linear                // self_attn.q_proj
    let key: Linear                  // self_attn.k_proj
    let value: Linear                // self_attn.v_proj
    let output: Linear               // self_attn.out_proj
    let norm2: LayerNorm             // layer_norm2
    let feedForwardIn: Linear        // mlp.fc1, D -> F
    let feedForwardOut: Linear       // mlp.fc2, F -> D
    let heads: Int
    let activation: CLIPTextConfig.Activation

    init(_ m: ModuleLoader, config: CLIPTextConfig,
         activation: CLIPTextConfig.Activation) throws {
        let (d, f, eps) = (config.hiddenSize, config.intermediateSize, config.layerNormEps)
        norm1 = try m.layerNorm("layer_norm1", dim: d, eps: eps)
        query = try m.linear("self_attn.q_proj", out: d, in: d)
        key = try m.linear("self_attn.k_proj", out: d, in: d)
        value = try m.linear("self_attn.v_proj", out: d, in: d)
        output = try m.linear("self_attn.out_proj", out: d, in: d)
        norm2 = try m.layerNorm("layer_norm2", dim: d, eps: eps)
        feedForwardIn = try m.linear("mlp.fc1", out: f, in: d)
        feedForwardOut = try m.linear("mlp.fc2", out: d, in: f)
        heads = config.numAttentionHeads
        self.activation = activation
    }

    /// x [N, L, D] -> [N, L, D].
    func callAsFunction(_ x: Tensor, _ c: Compute) -> Tensor {
        var h = x
        let normed = c.layerNorm(h, norm1)                                  // [N, L, D]
        let mixed = c.attention(q: c.linear(normed, query), k: c.linear(normed, key),
                                v: c.linear(normed, value), heads: heads,
                                causal: true)                               // [N, L, D]
        c.addInPlace(&h, c.linear(mixed, output))

        let hidden = c.linear(c.layerNorm(h, norm2), feedForwardIn)         // [N, L, F]
        c.addInPlace(&h, c.linear(activate(hidden, c), feedForwardOut))     // [N, L, D]
        return h
    }

    private func activate(_ x: Tensor, _ c: Compute) -> Tensor {
        switch activation {
        case .quickGELU: return c.quickGELU(x)
        case .gelu: return c.gelu(x)
        case .geluTanh, .geluNew: return c.geluTanh(x)
        }
    }
}

public struct CLIPTextModel: Sendable {
    public let config: CLIPTextConfig
    let tokenEmbedding: Tensor       // text_model.embeddings.token_embedding.weight [V, D]
    let positionEmbedding: Tensor    // text_model.embeddings.position_embedding.weight [P, D]
    let layers: [CLIPEncoderLayer]   // text_model.encoder.layers.i
    let finalNorm: LayerNorm         // text_model.final_layer_norm

    static let component = "CLIPTextModel"

    /// The encoder from its config and weights; every tensor's shape is checked against the
    /// config. Keys are `text_model.embeddings...` as CLIPModel, transformers 4 and SD v1.x
    /// checkpoints store them, or `embeddings...` as transformers 5 saves a CLIPTextModel.
    /// Other keys (a `position_ids` buffer, a vision tower) are ignored, as transformers
    /// ignores them.
    public init(config: CLIPTextConfig, weights: any WeightSource) throws {
        let activation = try config.validate(component: Self.component)
        self.config = config
        let prefixed = weights.shape("text_model.embeddings.token_embedding.weight") != nil
        let root = ModuleLoader(source: weights, component: Self.component,
                                prefix: prefixed ? "text_model" : "")
        let d = config.hiddenSize
        let embeddings = root.child("embeddings")
        tokenEmbedding = try embeddings.tensor("token_embedding.weight",
                                               shape: [config.vocabSize, d])
        positionEmbedding = try embeddings.tensor("position_embedding.weight",
                                                  shape: [config.maxPositionEmbeddings, d])
        layers = try (0..<config.numHiddenLayers).map {
            try CLIPEncoderLayer(root.child("encoder.layers.\($0)"), config: config,
                                 activation: activation)
        }
        finalNorm = try root.layerNorm("final_layer_norm", dim: d, eps: config.layerNormEps)
    }

    /// last_hidden_state [1, L, D] of token ids (L = ids.count, at most the position count),
    /// without an attention mask: every position, padding included, takes part as in
    /// diffusers' encode_prompt for SD v1.x.
    public func lastHiddenState(ids: [Int], compute c: Compute) throws -> Tensor {
        let (length, d) = (ids.count, config.hiddenSize)
        guard (1...config.maxPositionEmbeddings).contains(length) else {
            throw InferenceError.badInput(
                component: Self.component, name: "input_ids",
                problem: "has \(length) tokens; expected 1 to \(config.maxPositionEmbeddings) "
                    + "(max_position_embeddings)")
        }
        if let bad = ids.first(where: { !(0..<config.vocabSize).contains($0) }) {
            throw InferenceError.badInput(
                component: Self.component, name: "input_ids",
                problem: "holds token id \(bad); expected ids below vocab_size "
                    + "\(config.vocabSize): the tokenizer does not belong to this text encoder")
        }

        var h = Tensor(shape: [1, length, d]) { out in                     // [1, L, D]
            for (position, id) in ids.enumerated() {
                for i in 0..<d {
                    out[position * d + i] = tokenEmbedding.scalars[id * d + i]
                        + positionEmbedding.scalars[position * d + i]
                }
            }
        }
        for layer in layers { h = layer(h, c) }                            // [1, L, D]
        return c.layerNorm(h, finalNorm)                                    // [1, L, D]
    }
}
