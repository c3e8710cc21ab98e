// ResNet block of the UNet, ControlNet and VAE; matches diffusers' ResnetBlock2D with
// time_embedding_norm "default" and output_scale_factor 1.

struct ResnetBlock2D: Sendable {
    let norm1: GroupNorm             // norm1
    let conv1: Conv2d                // conv1, 3x3
    let timeProjection: Linear?      // time_emb_proj (absent in the VAE)
    let norm2: GroupNorm             // norm2
    let conv2: Conv2d                // conv2, 3x3
    let shortcut: Conv2d?            // conv_shortcut, 1x1, when channels change

    init(_ m: ModuleLoader, in input: Int, out: Int, timeChannels: Int?, groups: Int,
         eps: Float) throws {
        norm1 = try m.groupNorm("norm1", channels: input, groups: groups, eps: eps)
        conv1 = try m.conv("conv1", out: out, in: input, kernel: 3)
        timeProjection = try timeChannels.map { try m.linear("time_emb_proj", out: out, in: $0) }
        norm2 = try m.groupNorm("norm2", channels: out, groups: groups, eps: eps)
        conv2 = try m.conv("conv2", out: out, in: out, kernel: 3)
        shortcut = input == out ? nil : try m.conv("conv_shortcut", out: out, in: input, kernel: 1)
    }

    /// x [N, Cin, H, W], activatedTime = silu(temb) [N, T] -> [N, Cout, H, W].
    func callAsFunction(_ x: Tensor, activatedTime: Tensor?, _ c: Compute) -> Tensor {
        var h = c.groupNorm(x, norm1, silu: true)                 // [N, Cin, H, W]
        h = c.conv2d(h, conv1)                                     // [N, Cout, H, W]
        if let projection = timeProjection, let t = activatedTime {
            c.addChannelBias(&h, c.linear(t, projection))          // + [N, Cout]
        }
        h = c.groupNorm(h, norm2, silu: true)
        h = c.conv2d(h, conv2)                                     // [N, Cout, H, W]

        var residual = shortcut.map { c.conv2d(x, $0) } ?? x       // [N, Cout, H, W]
        c.addInPlace(&residual, h)
        return residual
    }
}
