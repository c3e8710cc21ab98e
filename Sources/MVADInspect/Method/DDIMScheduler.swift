// The noise schedule of diffusers' DDIMScheduler (SD v1.4 configuration) and the
// deterministic DDIM inversion step built on it.

import Foundation

public struct DDIMScheduler: Sendable {
    /// Cumulative products of (1 - beta), one per training timestep, in Float32 as diffusers
    /// keeps them.
    public let alphasCumprod: [Float]
    /// The alpha used "before" timestep 0: 1 with set_alpha_to_one, else alphas_cumprod[0].
    public let finalAlpha: Float

    /// The schedule exactly as diffusers computes it in float32: torch.linspace (a + step * i
    /// for the first half, b - step * (n - 1 - i) for the second, each with one rounding),
    /// squared for scaled_linear, and a cumulative product accumulated in double.
    public init(_ settings: SchedulerSettings) {
        let n = settings.numTrainTimesteps
        let scaled = settings.betaSchedule == "scaled_linear"
        let start = Float(scaled ? settings.betaStart.squareRoot() : settings.betaStart)
        let end = Float(scaled ? settings.betaEnd.squareRoot() : settings.betaEnd)
        let step = n > 1 ? (end - start) / Float(n - 1) : 0
        var product = 1.0
        alphasCumprod = (0..<n).map { i in
            let value = i < n / 2 ? start.addingProduct(step, Float(i))
                : end.addingProduct(-step, Float(n - 1 - i))
            let beta = scaled ? value * value : value
            product *= Double(1 - beta)
            return Float(product)
        }
        finalAlpha = settings.setAlphaToOne ? 1 : alphasCumprod[0]
    }

    /// alpha_cumprod at `t`, or the final alpha for t < 0.
    public func alpha(at t: Int) -> Float {
        t < 0 ? finalAlpha : alphasCumprod[t]
    }

    /// One inversion step from timestep `from` to `to` with the noise `epsilon` predicted at
    /// `to`: x0 = (x - sqrt(1 - a_from) eps) / sqrt(a_from); x' = sqrt(a_to) x0 + sqrt(1 - a_to) eps.
    public func invert(_ x: inout [Float], epsilon: [Float], from: Int, to: Int) {
        precondition(x.count == epsilon.count, "latent and noise sizes differ")
        let aFrom = alpha(at: from)
        let aTo = alpha(at: to)
        let (sFrom, nFrom) = (aFrom.squareRoot(), (1 - aFrom).squareRoot())
        let (sTo, nTo) = (aTo.squareRoot(), (1 - aTo).squareRoot())
        for i in x.indices {
            let x0 = (x[i] - nFrom * epsilon[i]) / sFrom
            x[i] = sTo * x0 + nTo * epsilon[i]
        }
    }
}
