// ResNet block of the UNet, ControlNet and VAE; matches diffusers' ResnetBlock2D with
// time_embedding_norm "default" and output_scale_factor 1.

/// How a ResNet block adds the time embedding to its features.
enum TimeProjection: Sendable {
    /// time_emb_proj [Cout, T] applied to silu(temb) [N, T] at every call.
    case computed(Linear)
    /// time_emb_proj(silu(temb(t))) folded by the converter: one row [Cout] per stored
    /// timestep, table [S, Cout].
    case folded(Tensor)
}

/// The time input of one call, as the encoder prepares it for every ResNet block.
enum TimeInput: Sendable {
    /// silu(temb) [N, T] for ResNets with computed projections.
    case activated(Tensor)
    /// For each image, the row of the folded tables holding its timestep.
    case rows([Int])
}

struct ResnetBlock2D: Sendable {
    let norm1: GroupNorm             // norm1
    let conv1: Conv2d                // conv1, 3x3
    let timeProjection: TimeProjection?  // time_emb_proj or its table (absent in the VAE)
    let norm2: GroupNorm             // norm2
    let conv2: Conv2d                // conv2, 3x3
    let shortcut: Conv2d?            // conv_shortcut, 1x1, when channels change

    /// `foldedSteps`: the number of timesteps S of a folded model, whose block loads the table
    /// time_emb_proj.folded [S, out] instead of time_emb_proj.
    init(_ m: ModuleLoader, in input: Int, out: Int, timeChannels: Int?, groups: Int,
         eps: Float, foldedSteps: Int? = nil) throws {
        norm1 = try m.groupNorm("norm1", channels: input, groups: groups, eps: eps)
        conv1 = try m.conv("conv1", out: out, in: input, kernel: 3)
        switch (timeChannels, foldedSteps) {
        case (nil, _):
            timeProjection = nil
        case let (_, steps?):
            let table = String(FoldedConstants.tableSuffix.dropFirst())
            timeProjection = .folded(try m.tensor(table, shape: [steps, out]))
        case let (channels?, nil):
            timeProjection = .computed(try m.linear("time_emb_proj", out: out, in: channels))
        }
        norm2 = try m.groupNorm("norm2", channels: out, groups: groups, eps: eps)
        conv2 = try m.conv("conv2", out: out, in: out, kernel: 3)
        shortcut = input == out ? nil : try m.conv("conv_shortcut", out: out, in: input, kernel: 1)
    }

    /// x [N, Cin, H, W] with the time input (nil in the VAE) -> [N, Cout, H, W].
    func callAsFunction(_ x: Tensor, time: TimeInput?, _ c: Compute) -> Tensor {
        var h = c.groupNorm(x, norm1, silu: true)                 // [N, Cin, H, W]
        h = c.conv2d(h, conv1)                                     // [N, Cout, H, W]
        switch (timeProjection, time) {
        case let (.computed(projection)?, .activated(t)?):
            c.addChannelBias(&h, c.linear(t, projection))          // + [N, Cout]
        case let (.folded(table)?, .rows(rows)?):
            c.addChannelBias(&h, Self.gather(table, rows))         // + [N, Cout]
        case (nil, nil):
            break
        default:
            preconditionFailure("ResNet time input \(String(describing: time)) does not match "
                                + "its projection; the encoder decides both")
        }
        h = c.groupNorm(h, norm2, silu: true)
        h = c.conv2d(h, conv2)                                     // [N, Cout, H, W]

        var residual = shortcut.map { c.conv2d(x, $0) } ?? x       // [N, Cout, H, W]
        c.addInPlace(&residual, h)
        return residual
    }

    /// Rows `rows` of table [S, C] -> [N, C].
    static func gather(_ table: Tensor, _ rows: [Int]) -> Tensor {
        let width = table.shape[1]
        var out = [Float]()
        out.reserveCapacity(rows.count * width)
        for row in rows {
            precondition(table.shape[0] > row, "folded time row \(row) outside \(table.shape)")
            out.append(contentsOf: table.scalars[(row * width)..<((row + 1) * width)])
        }
        return Tensor(shape: [rows.count, width], scalars: out)
    }
}
