// Loading module weights by checkpoint key: the WeightSource abstraction, a prefix-scoped
// loader that checks every tensor's shape against what the config implies, and load errors.

/// Anything that can hand out named tensors: a safetensors file, a diffusers folder, or a
/// view over one (renamed keys, merged LoRA deltas).
public protocol WeightSource: Sendable {
    /// Every stored key.
    var names: [String] { get }
    /// The tensor stored under `name`, converted to Float32.
    func tensor(_ name: String) throws -> Tensor
    /// The stored shape of `name`, or nil when absent; cheap (no data is read).
    func shape(_ name: String) -> [Int]?
    /// The int8 values (row-major, outermost dimension = rows) and one scale per row of
    /// `name` when it is stored quantised per output channel, so that a layer can run on them
    /// as stored; nil for anything else, where `tensor(_:)` serves the weights.
    func quantized(_ name: String) throws -> (values: [Int8], scales: [Float])?
    /// The int8 weight `name` of stored shape `shape` packed for the int8 kernels with `bias`
    /// folded in, or nil when it is not stored int8. Sources may hand the same matrix to every
    /// model that loads `name`, so that shared weights are held once.
    func quantizedMatrix(_ name: String, shape: [Int], bias: Tensor?) throws -> QuantizedMatrix?
    /// A low-rank update to run beside the int8 weight `name` (a ControlLoRA's delta over
    /// the UNet's int8 weights); nil for none. Float weights come with it merged.
    func lowRankUpdate(_ name: String) -> LoRADelta?
}

extension WeightSource {
    /// Sources that store no int8 weights serve every tensor through `tensor(_:)`.
    public func quantized(_ name: String) throws -> (values: [Int8], scales: [Float])? { nil }

    /// Packs `quantized(name)` afresh.
    public func quantizedMatrix(_ name: String, shape: [Int], bias: Tensor?) throws
        -> QuantizedMatrix? {
        guard let (values, scales) = try quantized(name) else { return nil }
        return try QuantizedMatrix(values: values, scales: scales, shape: shape,
                                   bias: bias?.scalars)
    }

    public func lowRankUpdate(_ name: String) -> LoRADelta? { nil }
}

/// Why a model could not be built from its config and weights.
public enum ModelLoadError: Error, CustomStringConvertible, Equatable {
    case missingTensor(component: String, name: String)
    case shapeMismatch(component: String, name: String, found: [Int], expected: [Int])
    case unsupportedConfig(component: String, field: String, found: String, supported: String)
    case invalidConfig(component: String, field: String, problem: String)
    case invalidLoRA(component: String, name: String, problem: String)
    case invalidQuantized(component: String, name: String, problem: String)

    public var description: String {
        switch self {
        case let .missingTensor(component, name):
            return "\(component): tensor '\(name)' is missing from the weights"
        case let .shapeMismatch(component, name, found, expected):
            return "\(component): tensor '\(name)' has shape \(found), but the config implies "
                + "\(expected); the config.json does not describe these weights"
        case let .unsupportedConfig(component, field, found, supported):
            return "\(component): config field '\(field)' is \(found); supported: \(supported)"
        case let .invalidConfig(component, field, problem):
            return "\(component): config field '\(field)' \(problem)"
        case let .invalidLoRA(component, name, problem):
            return "\(component): LoRA tensor '\(name)' \(problem)"
        case let .invalidQuantized(component, name, problem):
            return "\(component): int8 tensor '\(name)' cannot be used: \(problem)"
        }
    }
}

/// Loads the layers of one module, whose checkpoint keys all start with `prefix`.
struct ModuleLoader {
    let source: any WeightSource
    let component: String
    let prefix: String

    init(source: any WeightSource, component: String, prefix: String = "") {
        self.source = source
        self.component = component
        self.prefix = prefix
    }

    /// The loader of a sub-module: `child("down_blocks.0")`.
    func child(_ name: String) -> ModuleLoader {
        ModuleLoader(source: source, component: component, prefix: key(name))
    }

    func key(_ name: String) -> String {
        prefix.isEmpty ? name : prefix + "." + name
    }

    func has(_ name: String) -> Bool {
        source.shape(key(name)) != nil
    }

    /// The full key of `name` (relative to the prefix), whose stored shape must be `expected`.
    func checkedKey(_ name: String, shape expected: [Int]) throws -> String {
        let full = key(name)
        guard let found = source.shape(full) else {
            throw ModelLoadError.missingTensor(component: component, name: full)
        }
        guard found == expected else {
            throw ModelLoadError.shapeMismatch(
                component: component, name: full, found: found, expected: expected)
        }
        return full
    }

    /// The tensor `name` (relative to the prefix), which must have shape `expected`.
    func tensor(_ name: String, shape expected: [Int]) throws -> Tensor {
        try source.tensor(checkedKey(name, shape: expected))
    }

    /// The weight `name` of shape `expected` as int8 rows [expected[0], rest] with `bias`
    /// folded in, when the source stores it so; nil when it holds floats.
    func quantizedWeight(_ name: String, shape expected: [Int],
                         bias: Tensor?) throws -> QuantizedMatrix? {
        let full = try checkedKey(name, shape: expected)
        do {
            return try source.quantizedMatrix(full, shape: expected, bias: bias)
        } catch let error as QuantizedWeightsError {
            throw ModelLoadError.invalidQuantized(component: component, name: full,
                                                  problem: error.description)
        }
    }

    func conv(_ name: String, out: Int, in input: Int, kernel: Int, stride: Int = 1,
              padding: Int? = nil, bias: Bool = true) throws -> Conv2d {
        let shape = [out, input, kernel, kernel]
        _ = try checkedKey(name + ".weight", shape: shape)
        let b = bias ? try tensor(name + ".bias", shape: [out]) : nil
        let pad = padding ?? (kernel - 1) / 2
        if let matrix = try quantizedWeight(name + ".weight", shape: shape, bias: b) {
            return Conv2d(quantized: matrix, inChannels: input, kernelHeight: kernel,
                          kernelWidth: kernel, stride: stride, padding: pad)
        }
        return Conv2d(weight: try tensor(name + ".weight", shape: shape), bias: b,
                      stride: stride, padding: pad)
    }

    func linear(_ name: String, out: Int, in input: Int, bias: Bool = true) throws -> Linear {
        try projection(name, shape: [out, input], bias: bias)
    }

    /// A 1x1 projection stored either as Linear [out, in] or as Conv2d [out, in, 1, 1].
    func pointwise(_ name: String, out: Int, in input: Int, bias: Bool = true) throws -> Linear {
        let stored = source.shape(key(name + ".weight"))
        let shape = stored?.count == 4 ? [out, input, 1, 1] : [out, input]
        return try projection(name, shape: shape, bias: bias)
    }

    /// A Linear [out, in] from a weight of `shape`, [out, in] or [out, in, 1, 1].
    private func projection(_ name: String, shape: [Int], bias: Bool) throws -> Linear {
        let (out, input) = (shape[0], shape[1])
        _ = try checkedKey(name + ".weight", shape: shape)
        let b = bias ? try tensor(name + ".bias", shape: [out]) : nil
        if let matrix = try quantizedWeight(name + ".weight", shape: shape, bias: b) {
            return Linear(quantized: matrix, lowRank: source.lowRankUpdate(key(name + ".weight")))
        }
        let weight = try tensor(name + ".weight", shape: shape)
        return Linear(weight: weight.reshaped([out, input]), bias: b)
    }

    func groupNorm(_ name: String, channels: Int, groups: Int, eps: Float) throws -> GroupNorm {
        guard groups > 0, channels % groups == 0 else {
            throw ModelLoadError.invalidConfig(
                component: component, field: "norm_num_groups",
                problem: "is \(groups), which does not divide the \(channels) channels of \(key(name))")
        }
        return GroupNorm(groups: groups, eps: eps,
                         weight: try tensor(name + ".weight", shape: [channels]),
                         bias: try tensor(name + ".bias", shape: [channels]))
    }

    func layerNorm(_ name: String, dim: Int, eps: Float) throws -> LayerNorm {
        LayerNorm(eps: eps, weight: try tensor(name + ".weight", shape: [dim]),
                  bias: try tensor(name + ".bias", shape: [dim]))
    }
}
