// config.json of transformers' CLIPTextModel (model_type "clip_text_model", or the text_config
// of a full "clip" model): the fields the text encoder's forward pass needs.

/// The text encoder's sizes and settings; absent fields take CLIPTextConfig's defaults.
public struct CLIPTextConfig: Codable, Sendable, Equatable {
    public var vocabSize: Int = 49408
    public var hiddenSize: Int = 512
    public var intermediateSize: Int = 2048
    public var numHiddenLayers: Int = 12
    public var numAttentionHeads: Int = 8
    public var maxPositionEmbeddings: Int = 77
    public var hiddenAct: String = "quick_gelu"
    public var layerNormEps: Float = 1e-5

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads"
        case maxPositionEmbeddings = "max_position_embeddings"
        case hiddenAct = "hidden_act", layerNormEps = "layer_norm_eps"
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = CLIPTextConfig()
        vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? d.vocabSize
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? d.hiddenSize
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize)
            ?? d.intermediateSize
        numHiddenLayers = try c.decodeIfPresent(Int.self, forKey: .numHiddenLayers)
            ?? d.numHiddenLayers
        numAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads)
            ?? d.numAttentionHeads
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings)
            ?? d.maxPositionEmbeddings
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? d.hiddenAct
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? d.layerNormEps
    }

    /// The MLP activations of transformers' ACT2FN that the encoder runs.
    public enum Activation: String, Sendable, CaseIterable {
        /// x * sigmoid(1.702 x), CLIP's own (SD v1.x).
        case quickGELU = "quick_gelu"
        /// The exact (erf) GELU (SD 2.x's OpenCLIP text encoder).
        case gelu = "gelu"
        /// The tanh approximation of GELU, under both of its names.
        case geluTanh = "gelu_pytorch_tanh"
        case geluNew = "gelu_new"
    }

    /// Checks the sizes and the activation; returns the activation.
    func validate(component: String) throws -> Activation {
        let sizes: [(String, Int)] = [
            ("vocab_size", vocabSize), ("hidden_size", hiddenSize),
            ("intermediate_size", intermediateSize), ("num_hidden_layers", numHiddenLayers),
            ("num_attention_heads", numAttentionHeads),
            ("max_position_embeddings", maxPositionEmbeddings),
        ]
        for (field, value) in sizes where value <= 0 {
            throw ModelLoadError.invalidConfig(component: component, field: field,
                                               problem: "is \(value); expected a positive size")
        }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw ModelLoadError.invalidConfig(
                component: component, field: "num_attention_heads",
                problem: "is \(numAttentionHeads), which does not divide hidden_size \(hiddenSize)")
        }
        guard layerNormEps > 0, layerNormEps.isFinite else {
            throw ModelLoadError.invalidConfig(component: component, field: "layer_norm_eps",
                                               problem: "is \(layerNormEps); expected > 0")
        }
        guard let activation = Activation(rawValue: hiddenAct) else {
            throw ModelLoadError.unsupportedConfig(
                component: component, field: "hidden_act", found: hiddenAct,
                supported: Activation.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return activation
    }
}

/// What decides how config.json is read: a CLIPTextModel config is the text config itself;
/// a full CLIPModel config ("clip") nests it under text_config.
struct CLIPConfigFile: Decodable {
    var modelType: String?
    var textConfig: CLIPTextConfig?

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", textConfig = "text_config"
    }

    /// model_type values whose config holds a CLIP text encoder.
    static let textModelTypes = ["clip_text_model", "clip"]
}
