// The parameterised layers the diffusers models are built from: weights plus their settings.
// Each mirrors a torch.nn module (Conv2d, Linear, GroupNorm, LayerNorm).

/// torch.nn.Conv2d with groups = 1. Weight [Cout, Cin, kH, kW], optional bias [Cout].
///
/// Loaded from an int8 pack, the layer holds its weights as `quantized` [Cout, Cin * kH * kW]
/// instead (bias folded in), `weight` is an empty placeholder, and `Compute.conv2d` runs the
/// int8 path.
public struct Conv2d: Sendable {
    public var weight: Tensor
    public var bias: Tensor?
    public var stride: Int
    /// Zero padding added before the convolution: top, left, bottom, right.
    public var padding: (top: Int, left: Int, bottom: Int, right: Int)
    /// Int8 weights with one scale per output channel, or nil for a float layer.
    public private(set) var quantized: QuantizedMatrix?
    /// [Cout, Cin, kH, kW] of the int8 weights; unused (empty) for a float layer.
    private var quantizedShape: [Int] = []

    public init(weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0) {
        self.init(weight: weight, bias: bias, stride: stride,
                  padding: (padding, padding, padding, padding))
    }

    public init(weight: Tensor, bias: Tensor?, stride: Int,
                padding: (top: Int, left: Int, bottom: Int, right: Int)) {
        precondition(weight.rank == 4, "conv weight must be [Cout, Cin, kH, kW], got \(weight.shape)")
        precondition(bias == nil || bias?.shape == [weight.shape[0]], "conv bias shape mismatch")
        self.weight = weight
        self.bias = bias
        self.stride = stride
        self.padding = padding
    }

    /// A convolution on int8 weights `matrix` [Cout, Cin * kH * kW] (packed for kH * kW taps);
    /// its bias is the matrix's.
    public init(quantized matrix: QuantizedMatrix, inChannels: Int, kernelHeight: Int,
                kernelWidth: Int, stride: Int = 1, padding: Int = 0) {
        precondition(matrix.columns == inChannels * kernelHeight * kernelWidth,
                     "int8 conv matrix has \(matrix.columns) columns, expected "
                        + "\(inChannels) x \(kernelHeight) x \(kernelWidth)")
        precondition(matrix.taps == kernelHeight * kernelWidth,
                     "int8 conv matrix packed for \(matrix.taps) taps, expected "
                        + "\(kernelHeight) x \(kernelWidth)")
        weight = Tensor(shape: [0], scalars: [])
        bias = Tensor(shape: [matrix.rows], scalars: matrix.bias)
        self.stride = stride
        self.padding = (padding, padding, padding, padding)
        quantized = matrix
        quantizedShape = [matrix.rows, inChannels, kernelHeight, kernelWidth]
    }

    /// [Cout, Cin, kH, kW], whichever way the weights are held.
    public var weightShape: [Int] { quantized == nil ? weight.shape : quantizedShape }
    public var outChannels: Int { weightShape[0] }
    public var inChannels: Int { weightShape[1] }
    public var kernelHeight: Int { weightShape[2] }
    public var kernelWidth: Int { weightShape[3] }
}

/// torch.nn.Linear. Weight [out, in], optional bias [out].
///
/// Loaded from an int8 pack, the layer holds `quantized` [out, in] instead (bias folded in),
/// `weight` is an empty placeholder, and `Compute.linear` runs the int8 path.
public struct Linear: Sendable {
    public var weight: Tensor
    public var bias: Tensor?
    /// Int8 weights with one scale per output feature, or nil for a float layer.
    public private(set) var quantized: QuantizedMatrix?
    /// With int8 weights only: a low-rank update run beside them, y += scale * x down^T up^T
    /// (a ControlLoRA's delta over the UNet weights it shares).
    public private(set) var lowRank: LoRADelta?

    public init(weight: Tensor, bias: Tensor?) {
        precondition(weight.rank == 2, "linear weight must be [out, in], got \(weight.shape)")
        precondition(bias == nil || bias?.shape == [weight.shape[0]], "linear bias shape mismatch")
        self.weight = weight
        self.bias = bias
    }

    /// A linear layer on int8 weights `matrix` [out, in]; its bias is the matrix's. `lowRank`
    /// must factor an [out, in] update.
    public init(quantized matrix: QuantizedMatrix, lowRank: LoRADelta? = nil) {
        if let lowRank {
            precondition(lowRank.down.shape.count == 2 && lowRank.up.shape.count == 2
                            && lowRank.down.shape[1] == matrix.columns
                            && lowRank.up.shape[0] == matrix.rows
                            && lowRank.up.shape[1] == lowRank.down.shape[0],
                         "low-rank update \(lowRank.up.shape) x \(lowRank.down.shape) for "
                            + "[\(matrix.rows), \(matrix.columns)] weights")
        }
        weight = Tensor(shape: [0], scalars: [])
        bias = Tensor(shape: [matrix.rows], scalars: matrix.bias)
        quantized = matrix
        self.lowRank = lowRank
    }

    public var outFeatures: Int { quantized?.rows ?? weight.shape[0] }
    public var inFeatures: Int { quantized?.columns ?? weight.shape[1] }
}

/// torch.nn.GroupNorm with affine weight and bias [C].
public struct GroupNorm: Sendable {
    public var groups: Int
    public var eps: Float
    public var weight: Tensor
    public var bias: Tensor

    public init(groups: Int, eps: Float, weight: Tensor, bias: Tensor) {
        precondition(weight.rank == 1 && weight.shape == bias.shape, "group norm affine shapes")
        precondition(weight.shape[0] % groups == 0, "channels must divide into groups")
        self.groups = groups
        self.eps = eps
        self.weight = weight
        self.bias = bias
    }

    public var channels: Int { weight.shape[0] }
}

/// torch.nn.LayerNorm over the last dimension, with affine weight and bias [D].
public struct LayerNorm: Sendable {
    public var eps: Float
    public var weight: Tensor
    public var bias: Tensor

    public init(eps: Float, weight: Tensor, bias: Tensor) {
        precondition(weight.rank == 1 && weight.shape == bias.shape, "layer norm affine shapes")
        self.eps = eps
        self.weight = weight
        self.bias = bias
    }
}
