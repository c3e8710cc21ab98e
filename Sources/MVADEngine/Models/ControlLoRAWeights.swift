// The ControlLoRA's weights as one source: a ControlNet whose encoder is the UNet's own
// weights plus low-rank deltas on its linear layers, and whose conditioning embedding and
// zero convolutions come from the ControlLoRA file.
//
// LoRA spellings accepted, keyed by the ControlNetModel module path `M`:
//   peft:  M.lora_A.weight [r, in], M.lora_B.weight [out, r]; scale lora_alpha / r
//   kohya: M.lora_down.weight [r, in], M.lora_up.weight [out, r], M.alpha []; scale alpha / r
// The merged weight is W + scale * B A (up x down), as peft's merge computes it.
//
// Folded constants (FoldedConstants) of the ControlLoRA differ from the UNet's, since its
// encoder is the UNet's plus the deltas: a folded pack stores them with the ControlLoRA's own
// tensors, and this source serves every folded name from there, never the UNet's.

/// One low-rank update of a linear weight: W + scale * up x down.
public struct LoRADelta: Sendable {
    public let down: Tensor              // [r, in]
    public let up: Tensor                // [out, r]
    public let scale: Float
}

public struct ControlLoRAWeights: WeightSource {
    let base: any WeightSource
    let own: any WeightSource
    let deltas: [String: LoRADelta]      // target weight key -> delta

    /// Key prefixes of the tensors a ControlLoRA carries itself.
    static let ownPrefixes = ["controlnet_cond_embedding.", "controlnet_down_blocks.",
                              "controlnet_mid_block."]
    /// Key prefixes of the encoder tensors it shares with the UNet.
    static let sharedPrefixes = ["conv_in.", "time_embedding.", "down_blocks.", "mid_block."]
    static let component = "ControlLoRA"

    /// `alpha`: the peft lora_alpha (from the ControlLoRA config) for files without per-layer
    /// alpha tensors; nil means scale 1.
    public init(unet: any WeightSource, lora: any WeightSource, alpha: Float?) throws {
        base = unet
        own = lora
        var parts: [String: [String: String]] = [:]       // module -> role -> key
        for name in lora.names where !Self.isOwn(name) {
            guard let (module, role) = Self.parseLoRAKey(name) else {
                throw ModelLoadError.invalidLoRA(
                    component: Self.component, name: name,
                    problem: "is neither a ControlNet tensor (controlnet_cond_embedding, "
                        + "controlnet_down_blocks, controlnet_mid_block) nor a LoRA tensor "
                        + "(lora_A/lora_B, lora_down/lora_up/alpha)")
            }
            parts[module, default: [:]][role] = name
        }
        var deltas: [String: LoRADelta] = [:]
        for (module, roles) in parts {
            deltas[module + ".weight"] = try Self.delta(module: module, roles: roles, unet: unet,
                                                        lora: lora, alpha: alpha)
        }
        self.deltas = deltas
    }

    /// The weight a LoRA tensor updates ("M.lora_A.weight", "M.alpha", ... -> "M.weight"), or
    /// nil for a name that is not a LoRA tensor.
    public static func loraTarget(of name: String) -> String? {
        parseLoRAKey(name).map { $0.0 + ".weight" }
    }

    private static func parseLoRAKey(_ name: String) -> (String, String)? {
        let roles = [(".lora_A.weight", "down"), (".lora_B.weight", "up"),
                     (".lora_down.weight", "down"), (".lora_up.weight", "up"), (".alpha", "alpha")]
        for (suffix, role) in roles where name.hasSuffix(suffix) {
            return (String(name.dropLast(suffix.count)), role)
        }
        return nil
    }

    private static func delta(module: String, roles: [String: String], unet: any WeightSource,
                              lora: any WeightSource, alpha: Float?) throws -> LoRADelta {
        let target = module + ".weight"
        func fail(_ problem: String) -> ModelLoadError {
            .invalidLoRA(component: component, name: module, problem: problem)
        }
        guard let downKey = roles["down"], let upKey = roles["up"] else {
            throw fail("needs both a down (lora_A/lora_down) and an up (lora_B/lora_up) matrix")
        }
        guard sharedPrefixes.contains(where: target.hasPrefix), let shape = unet.shape(target) else {
            throw fail("targets '\(target)', which is not a weight of the UNet encoder")
        }
        guard shape.count == 2 else {
            throw fail("targets '\(target)' of shape \(shape); LoRA on convolutions is not "
                       + "supported, only on linear layers")
        }
        let down = try lora.tensor(downKey)
        let up = try lora.tensor(upKey)
        guard down.rank == 2, up.rank == 2, down.shape[1] == shape[1], up.shape[0] == shape[0],
              up.shape[1] == down.shape[0], down.shape[0] > 0 else {
            throw fail("has down \(down.shape) and up \(up.shape), which do not factor a "
                       + "\(shape) weight as [out, r] x [r, in]")
        }
        let rank = Float(down.shape[0])
        var a = alpha ?? rank
        if let alphaKey = roles["alpha"] {
            let stored = try lora.tensor(alphaKey)
            guard stored.count == 1 else { throw fail("has an alpha with shape \(stored.shape)") }
            a = stored.scalars[0]
        }
        return LoRADelta(down: down, up: up, scale: a / rank)
    }

    /// True for the tensors served from the ControlLoRA's own file: its ControlNet modules and
    /// its folded constants.
    static func isOwn(_ name: String) -> Bool {
        ownPrefixes.contains(where: name.hasPrefix) || FoldedConstants.isFolded(name)
    }

    public var names: [String] {
        let shared = base.names.filter { name in
            Self.sharedPrefixes.contains(where: name.hasPrefix) && !FoldedConstants.isFolded(name)
        }
        let mine = own.names.filter(Self.isOwn)
        return (shared + mine).sorted()
    }

    public func tensor(_ name: String) throws -> Tensor {
        if Self.isOwn(name) { return try own.tensor(name) }
        var weight = try base.tensor(name)
        if let delta = deltas[name] {
            LoRADelta.merge(delta, into: &weight)
        }
        return weight
    }

    public func shape(_ name: String) -> [Int]? {
        if Self.isOwn(name) { return own.shape(name) }
        return base.shape(name)
    }

    /// Int8 weights pass through as stored, except those a LoRA delta changes: `tensor(_:)`
    /// merges those in float.
    public func quantized(_ name: String) throws -> (values: [Int8], scales: [Float])? {
        if Self.isOwn(name) { return try own.quantized(name) }
        return deltas[name] == nil ? try base.quantized(name) : nil
    }

    /// The UNet's own int8 matrix, shared with the UNet when its source shares matrices, also
    /// for the weights a LoRA delta changes: the loader runs those deltas beside it
    /// (`lowRankUpdate`), so the encoder's int8 weights are held once for both models.
    public func quantizedMatrix(_ name: String, shape: [Int], bias: Tensor?) throws
        -> QuantizedMatrix? {
        if Self.ownPrefixes.contains(where: name.hasPrefix) {
            return try own.quantizedMatrix(name, shape: shape, bias: bias)
        }
        return try base.quantizedMatrix(name, shape: shape, bias: bias)
    }

    public func lowRankUpdate(_ name: String) -> LoRADelta? {
        Self.ownPrefixes.contains(where: name.hasPrefix) ? nil : deltas[name]
    }
}

extension LoRADelta {
    /// weight [out, in] += scale * up [out, r] x down [r, in].
    static func merge(_ delta: LoRADelta, into weight: inout Tensor) {
        let (out, input, rank) = (weight.shape[0], weight.shape[1], delta.down.shape[0])
        let c = Compute(threads: 1)
        weight.withUnsafeMutableBufferPointer { wp in
            delta.up.withUnsafeBufferPointer { up in
                delta.down.withUnsafeBufferPointer { dp in
                    c.sgemm(transA: false, transB: false, m: out, n: input, k: rank,
                            alpha: delta.scale, a: up.start, lda: rank,
                            b: dp.start, ldb: input, beta: 1, c: wp.start,
                            ldc: input)
                }
            }
        }
    }
}
