// The noise schedule of diffusers' DDIMScheduler (SD v1.4 configuration) and the
// deterministic DDIM inversion step built on it.

import Foundation

public struct DDIMScheduler: Sendable {
    /// Cumulative products of (1 - beta), one per training timestep, in Float32 as diffusers
    /// keeps them.
    public let alphasCumprod: [Float]
    /// The alpha used "before" timestep 0: 1 with set_alpha_to_one, else alphas_cumprod[0].
    public let finalAlpha: Float

    public init(_ settings: SchedulerSettings) {
        let n = settings.numTrainTimesteps
        var betas = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let fraction = n > 1 ? Double(i) / Double(n - 1) : 0
            if settings.betaSchedule == "scaled_linear" {
                let (lo, hi) = (settings.betaStart.squareRoot(), settings.betaEnd.squareRoot())
                let root = Float(lo + (hi - lo) * fraction)
                betas[i] = root * root
            } else {
                betas[i] = Float(settings.betaStart + (settings.betaEnd - settings.betaStart) * fraction)
            }
        }
        var product: Float = 1
        alphasCumprod = betas.map { beta in
            product *= 1 - beta
            return product
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
