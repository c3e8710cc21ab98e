// config.json of diffusers' UNet2DConditionModel and ControlNetModel (SD 1.x family), with
// the checks that keep us to the architectures this engine implements.

/// A config value that diffusers allows as one number or as one number per block.
public enum PerBlock: Codable, Sendable, Equatable {
    case same(Int)
    case each([Int])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Int.self) {
            self = .same(value)
        } else {
            self = .each(try container.decode([Int].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .same(let value): try container.encode(value)
        case .each(let values): try container.encode(values)
        }
    }

    /// The per-block values for `blocks` blocks.
    func values(_ blocks: Int) -> [Int] {
        switch self {
        case .same(let value): return Array(repeating: value, count: blocks)
        case .each(let values): return values
        }
    }
}

/// The fields of UNet2DConditionModel's / ControlNetModel's config that shape the network.
public struct UNetConfig: Codable, Sendable {
    public var inChannels: Int = 4
    public var outChannels: Int? = 4
    public var blockOutChannels: [Int] = [320, 640, 1280, 1280]
    public var downBlockTypes: [String] = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                           "CrossAttnDownBlock2D", "DownBlock2D"]
    public var upBlockTypes: [String]? = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D",
                                          "CrossAttnUpBlock2D"]
    public var midBlockType: String? = "UNetMidBlock2DCrossAttn"
    public var layersPerBlock: PerBlock = .same(2)
    public var transformerLayersPerBlock: PerBlock? = nil
    public var attentionHeadDim: PerBlock? = .same(8)
    public var numAttentionHeads: PerBlock? = nil
    public var crossAttentionDim: PerBlock = .same(768)
    public var normNumGroups: Int? = 32
    public var normEps: Float = 1e-5
    public var useLinearProjection: Bool? = false
    public var flipSinToCos: Bool = true
    public var freqShift: Int = 0
    public var downsamplePadding: Int = 1
    public var midBlockScaleFactor: Float = 1
    public var actFn: String = "silu"
    public var centerInputSample: Bool = false
    public var resnetTimeScaleShift: String = "default"
    public var timeEmbeddingType: String = "positional"
    public var classEmbedType: String? = nil
    public var additionEmbedType: String? = nil
    public var timeCondProjDim: Int? = nil
    public var encoderHidDim: Int? = nil
    public var conditioningEmbeddingOutChannels: [Int]? = nil
    public var controlnetConditioningChannelOrder: String? = nil
    public var globalPoolConditions: Bool? = nil
    public var conditioningChannels: Int? = nil

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", outChannels = "out_channels"
        case blockOutChannels = "block_out_channels", downBlockTypes = "down_block_types"
        case upBlockTypes = "up_block_types", midBlockType = "mid_block_type"
        case layersPerBlock = "layers_per_block"
        case transformerLayersPerBlock = "transformer_layers_per_block"
        case attentionHeadDim = "attention_head_dim", numAttentionHeads = "num_attention_heads"
        case crossAttentionDim = "cross_attention_dim", normNumGroups = "norm_num_groups"
        case normEps = "norm_eps", useLinearProjection = "use_linear_projection"
        case flipSinToCos = "flip_sin_to_cos", freqShift = "freq_shift"
        case downsamplePadding = "downsample_padding", midBlockScaleFactor = "mid_block_scale_factor"
        case actFn = "act_fn", centerInputSample = "center_input_sample"
        case resnetTimeScaleShift = "resnet_time_scale_shift"
        case timeEmbeddingType = "time_embedding_type", classEmbedType = "class_embed_type"
        case additionEmbedType = "addition_embed_type", timeCondProjDim = "time_cond_proj_dim"
        case encoderHidDim = "encoder_hid_dim"
        case conditioningEmbeddingOutChannels = "conditioning_embedding_out_channels"
        case controlnetConditioningChannelOrder = "controlnet_conditioning_channel_order"
        case globalPoolConditions = "global_pool_conditions"
        case conditioningChannels = "conditioning_channels"
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = UNetConfig()
        func get<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try c.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        inChannels = try get(.inChannels, d.inChannels)
        outChannels = try get(.outChannels, d.outChannels ?? 4)
        blockOutChannels = try get(.blockOutChannels, d.blockOutChannels)
        downBlockTypes = try get(.downBlockTypes, d.downBlockTypes)
        upBlockTypes = try c.decodeIfPresent([String].self, forKey: .upBlockTypes)
        midBlockType = try get(.midBlockType, d.midBlockType ?? "UNetMidBlock2DCrossAttn")
        layersPerBlock = try get(.layersPerBlock, d.layersPerBlock)
        transformerLayersPerBlock = try c.decodeIfPresent(PerBlock.self, forKey: .transformerLayersPerBlock)
        attentionHeadDim = try c.decodeIfPresent(PerBlock.self, forKey: .attentionHeadDim)
        numAttentionHeads = try c.decodeIfPresent(PerBlock.self, forKey: .numAttentionHeads)
        crossAttentionDim = try get(.crossAttentionDim, d.crossAttentionDim)
        normNumGroups = try get(.normNumGroups, 32)
        normEps = try get(.normEps, d.normEps)
        useLinearProjection = try get(.useLinearProjection, false)
        flipSinToCos = try get(.flipSinToCos, d.flipSinToCos)
        freqShift = try get(.freqShift, d.freqShift)
        downsamplePadding = try get(.downsamplePadding, d.downsamplePadding)
        midBlockScaleFactor = try get(.midBlockScaleFactor, d.midBlockScaleFactor)
        actFn = try get(.actFn, d.actFn)
        centerInputSample = try get(.centerInputSample, d.centerInputSample)
        resnetTimeScaleShift = try get(.resnetTimeScaleShift, d.resnetTimeScaleShift)
        timeEmbeddingType = try get(.timeEmbeddingType, d.timeEmbeddingType)
        classEmbedType = try c.decodeIfPresent(String.self, forKey: .classEmbedType)
        additionEmbedType = try c.decodeIfPresent(String.self, forKey: .additionEmbedType)
        timeCondProjDim = try c.decodeIfPresent(Int.self, forKey: .timeCondProjDim)
        encoderHidDim = try c.decodeIfPresent(Int.self, forKey: .encoderHidDim)
        conditioningEmbeddingOutChannels = try c.decodeIfPresent(
            [Int].self, forKey: .conditioningEmbeddingOutChannels)
        controlnetConditioningChannelOrder = try c.decodeIfPresent(
            String.self, forKey: .controlnetConditioningChannelOrder)
        globalPoolConditions = try c.decodeIfPresent(Bool.self, forKey: .globalPoolConditions)
        conditioningChannels = try c.decodeIfPresent(Int.self, forKey: .conditioningChannels)
    }

    var blockCount: Int { blockOutChannels.count }

    /// Attention heads per down block (diffusers: num_attention_heads, else the historically
    /// misnamed attention_head_dim).
    var headsPerBlock: [Int] {
        (numAttentionHeads ?? attentionHeadDim ?? .same(8)).values(blockCount)
    }

    var layersPerDownBlock: [Int] { layersPerBlock.values(blockCount) }
    var transformerDepths: [Int] { (transformerLayersPerBlock ?? .same(1)).values(blockCount) }
    var contextDims: [Int] { crossAttentionDim.values(blockCount) }
    var groups: Int { normNumGroups ?? 32 }
    var timeEmbeddingChannels: Int { blockOutChannels[0] * 4 }

    /// Rejects every config this engine does not implement, naming the field.
    func validate(component: String, needsDecoder: Bool) throws {
        func unsupported(_ field: String, _ found: String, _ supported: String) -> ModelLoadError {
            .unsupportedConfig(component: component, field: field, found: found, supported: supported)
        }
        let n = blockCount
        guard n >= 1 else {
            throw ModelLoadError.invalidConfig(component: component, field: "block_out_channels",
                                               problem: "is empty")
        }
        let perBlock: [(String, Int)] = [
            ("down_block_types", downBlockTypes.count), ("layers_per_block", layersPerDownBlock.count),
            ("attention_head_dim/num_attention_heads", headsPerBlock.count),
            ("transformer_layers_per_block", transformerDepths.count),
            ("cross_attention_dim", contextDims.count),
        ]
        for (field, count) in perBlock where count != n {
            throw ModelLoadError.invalidConfig(
                component: component, field: field,
                problem: "has \(count) entries but block_out_channels has \(n)")
        }
        for type in downBlockTypes where !["CrossAttnDownBlock2D", "DownBlock2D"].contains(type) {
            throw unsupported("down_block_types", type, "CrossAttnDownBlock2D, DownBlock2D")
        }
        if needsDecoder {
            let ups = upBlockTypes ?? []
            guard ups.count == n else {
                throw ModelLoadError.invalidConfig(
                    component: component, field: "up_block_types",
                    problem: "has \(ups.count) entries but block_out_channels has \(n)")
            }
            for type in ups where !["CrossAttnUpBlock2D", "UpBlock2D"].contains(type) {
                throw unsupported("up_block_types", type, "CrossAttnUpBlock2D, UpBlock2D")
            }
        }
        if midBlockType != "UNetMidBlock2DCrossAttn" {
            throw unsupported("mid_block_type", midBlockType ?? "null", "UNetMidBlock2DCrossAttn")
        }
        if actFn != "silu" { throw unsupported("act_fn", actFn, "silu") }
        if resnetTimeScaleShift != "default" {
            throw unsupported("resnet_time_scale_shift", resnetTimeScaleShift, "default")
        }
        if timeEmbeddingType != "positional" {
            throw unsupported("time_embedding_type", timeEmbeddingType, "positional")
        }
        if let value = classEmbedType { throw unsupported("class_embed_type", value, "null") }
        if let value = additionEmbedType { throw unsupported("addition_embed_type", value, "null") }
        if let value = timeCondProjDim { throw unsupported("time_cond_proj_dim", "\(value)", "null") }
        if let value = encoderHidDim { throw unsupported("encoder_hid_dim", "\(value)", "null") }
        if centerInputSample { throw unsupported("center_input_sample", "true", "false") }
        if globalPoolConditions == true { throw unsupported("global_pool_conditions", "true", "false") }
        for (i, channels) in blockOutChannels.enumerated() where channels % headsPerBlock[i] != 0 {
            throw ModelLoadError.invalidConfig(
                component: component, field: "attention_head_dim",
                problem: "gives \(headsPerBlock[i]) heads for block \(i), which does not divide "
                    + "its \(channels) channels")
        }
    }
}
