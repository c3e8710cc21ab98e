// config.json of diffusers' AutoencoderKL: the fields the encoder half needs.

public struct VAEConfig: Codable, Sendable {
    public var inChannels: Int = 3
    public var blockOutChannels: [Int] = [128, 256, 512, 512]
    public var downBlockTypes: [String] = Array(repeating: "DownEncoderBlock2D", count: 4)
    public var layersPerBlock: Int = 2
    public var latentChannels: Int = 4
    public var normNumGroups: Int = 32
    public var actFn: String = "silu"
    public var scalingFactor: Float = 0.18215
    public var shiftFactor: Float? = nil
    public var useQuantConv: Bool = true
    public var midBlockAddAttention: Bool = true

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", blockOutChannels = "block_out_channels"
        case downBlockTypes = "down_block_types", layersPerBlock = "layers_per_block"
        case latentChannels = "latent_channels", normNumGroups = "norm_num_groups"
        case actFn = "act_fn", scalingFactor = "scaling_factor", shiftFactor = "shift_factor"
        case useQuantConv = "use_quant_conv", midBlockAddAttention = "mid_block_add_attention"
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = VAEConfig()
        inChannels = try c.decodeIfPresent(Int.self, forKey: .inChannels) ?? d.inChannels
        blockOutChannels = try c.decodeIfPresent([Int].self, forKey: .blockOutChannels)
            ?? d.blockOutChannels
        downBlockTypes = try c.decodeIfPresent([String].self, forKey: .downBlockTypes)
            ?? Array(repeating: "DownEncoderBlock2D", count: blockOutChannels.count)
        layersPerBlock = try c.decodeIfPresent(Int.self, forKey: .layersPerBlock) ?? d.layersPerBlock
        latentChannels = try c.decodeIfPresent(Int.self, forKey: .latentChannels) ?? d.latentChannels
        normNumGroups = try c.decodeIfPresent(Int.self, forKey: .normNumGroups) ?? d.normNumGroups
        actFn = try c.decodeIfPresent(String.self, forKey: .actFn) ?? d.actFn
        scalingFactor = try c.decodeIfPresent(Float.self, forKey: .scalingFactor) ?? d.scalingFactor
        shiftFactor = try c.decodeIfPresent(Float.self, forKey: .shiftFactor)
        useQuantConv = try c.decodeIfPresent(Bool.self, forKey: .useQuantConv) ?? d.useQuantConv
        midBlockAddAttention = try c.decodeIfPresent(Bool.self, forKey: .midBlockAddAttention)
            ?? d.midBlockAddAttention
    }

    func validate(component: String) throws {
        guard !blockOutChannels.isEmpty, downBlockTypes.count == blockOutChannels.count else {
            throw ModelLoadError.invalidConfig(
                component: component, field: "down_block_types",
                problem: "has \(downBlockTypes.count) entries for \(blockOutChannels.count) blocks")
        }
        for type in downBlockTypes where type != "DownEncoderBlock2D" {
            throw ModelLoadError.unsupportedConfig(component: component, field: "down_block_types",
                                                   found: type, supported: "DownEncoderBlock2D")
        }
        if actFn != "silu" {
            throw ModelLoadError.unsupportedConfig(component: component, field: "act_fn",
                                                   found: actFn, supported: "silu")
        }
    }
}
