// The parameterised layers the diffusers models are built from: weights plus their settings.
// Each mirrors a torch.nn module (Conv2d, Linear, GroupNorm, LayerNorm).

/// torch.nn.Conv2d with groups = 1. Weight [Cout, Cin, kH, kW], optional bias [Cout].
public struct Conv2d: Sendable {
    public var weight: Tensor
    public var bias: Tensor?
    public var stride: Int
    /// Zero padding added before the convolution: top, left, bottom, right.
    public var padding: (top: Int, left: Int, bottom: Int, right: Int)

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

    public var outChannels: Int { weight.shape[0] }
    public var inChannels: Int { weight.shape[1] }
    public var kernelHeight: Int { weight.shape[2] }
    public var kernelWidth: Int { weight.shape[3] }
}

/// torch.nn.Linear. Weight [out, in], optional bias [out].
public struct Linear: Sendable {
    public var weight: Tensor
    public var bias: Tensor?

    public init(weight: Tensor, bias: Tensor?) {
        precondition(weight.rank == 2, "linear weight must be [out, in], got \(weight.shape)")
        precondition(bias == nil || bias?.shape == [weight.shape[0]], "linear bias shape mismatch")
        self.weight = weight
        self.bias = bias
    }

    public var outFeatures: Int { weight.shape[0] }
    public var inFeatures: Int { weight.shape[1] }
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
