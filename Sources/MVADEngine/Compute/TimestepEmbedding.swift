// Sinusoidal timestep features, as diffusers' get_timestep_embedding (used by Timesteps).

import Foundation

public enum TimestepFeatures {
    /// Sinusoidal features of `timesteps` [N] -> [N, dim]. Frequencies
    /// exp(-ln(maxPeriod) * i / (dim / 2 - freqShift)); sin then cos, or cos then sin when
    /// `flipSinToCos`. Computed in Float32 as diffusers does.
    public static func embed(
        _ timesteps: [Float], dim: Int, flipSinToCos: Bool, freqShift: Float,
        maxPeriod: Float = 10000
    ) -> Tensor {
        precondition(dim % 2 == 0, "odd timestep embedding sizes are not supported (got \(dim))")
        let half = dim / 2
        let frequencies = (0..<half).map { i -> Float in
            let exponent = -logf(maxPeriod) * Float(i) / (Float(half) - freqShift)
            return expf(exponent)
        }
        var out = [Float](repeating: 0, count: timesteps.count * dim)
        for (row, t) in timesteps.enumerated() {
            for i in 0..<half {
                let angle = t * frequencies[i]
                let (first, second) = flipSinToCos ? (cosf(angle), sinf(angle)) : (sinf(angle), cosf(angle))
                out[row * dim + i] = first
                out[row * dim + half + i] = second
            }
        }
        return Tensor(shape: [timesteps.count, dim], scalars: out)
    }
}
