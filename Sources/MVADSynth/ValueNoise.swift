// ValueNoise: smooth procedural texture from hashed lattice values (bilinear interpolation with
// a smoothstep fade), summed over octaves. Deterministic for a seed; no tables are stored.

/// Value noise on the plane. `cell` is the lattice spacing (in pixels) of the first octave;
/// each further octave halves it and halves the weight.
struct ValueNoise: Sendable {
    let seed: UInt64
    let cell: Float
    let octaves: Int

    init(seed: UInt64, cell: Float, octaves: Int = 2) {
        precondition(cell > 0 && octaves >= 1, "value noise needs cell > 0 and octaves >= 1")
        self.seed = seed
        self.cell = cell
        self.octaves = octaves
    }

    /// The noise at (x, y), in [-1, 1) (weights are normalised to sum to 1).
    func value(_ x: Float, _ y: Float) -> Float {
        var sum: Float = 0
        var weight: Float = 1
        var total: Float = 0
        var spacing = cell
        for octave in 0..<octaves {
            let octaveSeed = SynthRandom.derive(seed, UInt64(octave))
            sum += weight * ValueNoise.single(x / spacing, y / spacing, seed: octaveSeed)
            total += weight
            weight *= 0.5
            spacing *= 0.5
        }
        return (sum / total) * 2 - 1
    }

    /// One octave in [0, 1): lattice values at the four surrounding integer points, blended.
    private static func single(_ x: Float, _ y: Float, seed: UInt64) -> Float {
        let fx = x.rounded(.down)
        let fy = y.rounded(.down)
        let ix = Int32(clamping: Int(fx))
        let iy = Int32(clamping: Int(fy))
        let tx = fade(x - fx)
        let ty = fade(y - fy)
        let v00 = SynthRandom.lattice(seed, ix, iy)
        let v10 = SynthRandom.lattice(seed, ix &+ 1, iy)
        let v01 = SynthRandom.lattice(seed, ix, iy &+ 1)
        let v11 = SynthRandom.lattice(seed, ix &+ 1, iy &+ 1)
        let top = v00 + (v10 - v00) * tx
        let bottom = v01 + (v11 - v01) * tx
        return top + (bottom - top) * ty
    }

    /// 3t^2 - 2t^3: zero slope at the lattice points, so the texture has no visible grid.
    private static func fade(_ t: Float) -> Float {
        t * t * (3 - 2 * t)
    }
}
