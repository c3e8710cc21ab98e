// Diffusion features of one part: VAE latents of the views, deterministic DDIM inversion of
// the (input, condition) pairs, one last UNet evaluation up to the deepest feature block, and
// the per-branch mean of the resized decoder-block outputs (PIPELINE.md).

import Foundation
import MVADEngine

/// A part's views as the model sees them: values in [0, 1], already at the model's size.
public struct PartImages: Sendable {
    /// The six lights [6, 3, S, S], or nil for normals-only inspection.
    public var lights: Tensor?
    /// The normal map [1, 3, S, S], or nil for RGB-only inspection.
    public var normals: Tensor?

    public init(lights: Tensor?, normals: Tensor?) {
        self.lights = lights
        self.normals = normals
    }
}

/// The feature maps of one part, [C, G, G] per branch, and the time each stage took.
public struct PartFeatures: Sendable {
    public var rgb: Tensor?
    public var normals: Tensor?
    public var timings: [String: Double] = [:]
}

public struct FeatureExtractor: Sendable {
    public let model: InspectionModel
    public let compute: Compute
    /// Pairs run through the UNet and ControlNet together (default 6: one modality's pairs).
    /// Lower holds fewer activations at a time; higher fills more rows per matrix product.
    public var pairsPerBatch: Int

    public init(model: InspectionModel, compute: Compute, pairsPerBatch: Int = 6) {
        self.model = model
        self.compute = compute
        self.pairsPerBatch = pairsPerBatch
    }

    /// Features of one part. `observe` sees the batched latents [P, 4, h, w] before the
    /// inversion (timestep 0) and after the step at each timestep (for tests and reports).
    /// `cancellation` is asked before each VAE encode and each UNet + ControlNet batch; when it
    /// answers true, this throws `InspectionError.cancelled` and returns nothing.
    public func features(of part: PartImages, modality: Modality,
                         observe: ((Int, Tensor) -> Void)? = nil,
                         cancellation: (any CancellationCheck)? = nil) throws -> PartFeatures {
        let c = compute
        var timings: [String: Double] = [:]
        let pairs = try makePairs(part, modality: modality)

        var clock = Stopwatch()
        let views = c.map(pairs.images) { $0 * 2 - 1 }                      // [V, 3, S, S]
        // One view at a time: seven 256 px views in one batch would hold about 235 MB per
        // activation of the VAE's first stage; every operator treats images independently.
        let latents = c.concatBatch(try (0..<views.shape[0]).map { view in
            try checkCancellation(cancellation, before: "the VAE encode of view \(view)")
            return try model.vae.encode(gather(views, [view]), compute: c) // [1, 4, h, w]
        })                                                                 // [V, 4, h, w]
        timings["encode_s"] = clock.lap()

        var x = gather(latents, pairs.inputIndex)                          // [P, 4, h, w]
        let conditions = pairs.conditionIndex.map { gather(pairs.images, $0) }  // [P, 3, S, S]
        let context = broadcast(model.context, to: x.shape[0])             // [P, L, D]
        observe?(0, x)
        for t in model.settings.timesteps {
            let epsilon = try predict(x, t: t, context: context, conditions: conditions,
                                      cancellation: cancellation)
            model.scheduler.invert(&x.scalars, epsilon: epsilon.scalars,
                                   from: t - model.settings.stepSize, to: t)
            observe?(t, x)
        }
        timings["inversion_s"] = clock.lap()

        let maps = try decoderFeatures(x, context: context, conditions: conditions,
                                       cancellation: cancellation)                // [P, C, G, G]
        var result = PartFeatures(timings: timings)
        switch modality {
        case .both:
            result.rgb = meanOfPairs(maps, 0..<6)
            result.normals = meanOfPairs(maps, 6..<maps.shape[0])   // 6 pairs, or 1 view
        case .rgb:
            result.rgb = meanOfPairs(maps, 0..<6)
        case .normals:
            result.normals = meanOfPairs(maps, 0..<1)
        }
        result.timings["features_s"] = clock.lap()
        return result
    }

    /// The views to encode and, per pair, which encoded view is the input and which image
    /// (if any) the ControlNet condition.
    struct Pairs {
        var images: Tensor                   // [V, 3, S, S] in [0, 1]
        var inputIndex: [Int]
        var conditionIndex: [Int]?
    }

    func makePairs(_ part: PartImages, modality: Modality) throws -> Pairs {
        let size = model.settings.imageSize
        func check(_ t: Tensor?, _ name: String, _ count: Int) throws -> Tensor {
            guard let t else { throw InspectionError.missingViews(modality: modality, view: name) }
            guard t.shape == [count, 3, size, size] else {
                throw InspectionError.badViewShape(view: name, found: t.shape,
                                                   expected: [count, 3, size, size])
            }
            return t
        }
        switch modality {
        case .both:
            let lights = try check(part.lights, "lights", 6)
            let normals = try check(part.normals, "normals", 1)
            let images = compute.concatBatch([lights, normals])          // views 0..5 lights, 6 normals
            guard model.control != nil else {
                // A plain UNet (the paper's ablation): the seven views without conditions;
                // "pairs" 0..5 are the lights and 6 the normal map.
                return Pairs(images: images, inputIndex: Array(0..<7), conditionIndex: nil)
            }
            return Pairs(images: images, inputIndex: Array(0..<6) + Array(repeating: 6, count: 6),
                         conditionIndex: Array(repeating: 6, count: 6) + Array(0..<6))
        case .rgb:
            return Pairs(images: try check(part.lights, "lights", 6), inputIndex: Array(0..<6),
                         conditionIndex: nil)
        case .normals:
            return Pairs(images: try check(part.normals, "normals", 1), inputIndex: [0],
                         conditionIndex: nil)
        }
    }

    /// The UNet's noise prediction at timestep t, with the ControlNet's residuals when the
    /// pairs have conditions.
    func predict(_ x: Tensor, t: Int, context: Tensor, conditions: Tensor?,
                 cancellation: (any CancellationCheck)? = nil) throws -> Tensor {
        try inBatches(x, context, conditions, cancellation: cancellation,
                      stage: "the UNet pass at timestep \(t)") { x, context, conditions in
            let timesteps = [Float](repeating: Float(t), count: x.shape[0])
            let residuals = try controlResiduals(x, timesteps: timesteps, context: context,
                                                 conditions: conditions)
            let out = try model.unet(sample: x, timesteps: timesteps, context: context,
                                     residuals: residuals, compute: compute)
            guard let noise = out.noisePrediction else {
                throw InspectionError.internalState("the UNet returned no noise prediction")
            }
            return noise
        }
    }

    /// `body` on consecutive batches of at most `pairsPerBatch` pairs (rows of x, context and
    /// conditions), its results stacked in order: a UNet + ControlNet pass then holds the
    /// activations of one batch, not of all twelve pairs. Every operator treats images
    /// independently, so the batch size does not change the results. `cancellation` is asked
    /// before each batch; `stage` names the pass in its error.
    func inBatches(_ x: Tensor, _ context: Tensor, _ conditions: Tensor?,
                   cancellation: (any CancellationCheck)? = nil, stage: @autoclosure () -> String,
                   _ body: (Tensor, Tensor, Tensor?) throws -> Tensor) throws -> Tensor {
        let count = x.shape[0]
        let size = max(1, pairsPerBatch)
        guard count > size else {
            try checkCancellation(cancellation, before: "\(stage()) (pairs 0..<\(count))")
            return try body(x, context, conditions)
        }
        let results = try stride(from: 0, to: count, by: size).map { first in
            let rows = Array(first..<min(count, first + size))
            try checkCancellation(cancellation,
                                  before: "\(stage()) (pairs \(first)..<\(first + rows.count))")
            return try body(gather(x, rows), gather(context, rows),
                            conditions.map { gather($0, rows) })
        }
        return compute.concatBatch(results)
    }

    func controlResiduals(_ x: Tensor, timesteps: [Float], context: Tensor,
                          conditions: Tensor?) throws -> ControlResiduals? {
        guard let conditions, let control = model.control else { return nil }
        return try control(sample: x, timesteps: timesteps, context: context,
                           condition: conditions, scale: model.settings.conditioningScale,
                           compute: compute)
    }

    /// The feature blocks' outputs at the last timestep, each resized to the grid, concatenated.
    func decoderFeatures(_ x: Tensor, context: Tensor, conditions: Tensor?,
                         cancellation: (any CancellationCheck)? = nil) throws -> Tensor {
        let settings = model.settings
        let t = settings.timesteps[settings.timesteps.count - 1]
        let deepest = settings.featureBlocks.max() ?? 0
        let grid = settings.gridSize
        let stage = "the feature pass at timestep \(t)"
        return try inBatches(x, context, conditions, cancellation: cancellation,
                             stage: stage) { x, context, conditions in
            let timesteps = [Float](repeating: Float(t), count: x.shape[0])
            let residuals = try controlResiduals(x, timesteps: timesteps, context: context,
                                                 conditions: conditions)
            let out = try model.unet(sample: x, timesteps: timesteps, context: context,
                                     residuals: residuals, stopAfterDecoderBlock: deepest,
                                     compute: compute)
            let parts = settings.featureBlocks.map { block in
                BicubicResize.resize(out.decoderBlocks[block], height: grid, width: grid,
                                     compute: compute)
            }
            return parts.count == 1 ? parts[0] : compute.concatChannels(parts)
        }
    }

    /// Mean over the pairs `range` of maps [P, C, G, G] -> [C, G, G], summed in pair order.
    func meanOfPairs(_ maps: Tensor, _ range: Range<Int>) -> Tensor {
        let per = maps.count / maps.shape[0]
        var sum = [Float](repeating: 0, count: per)
        maps.scalars.withUnsafeBufferPointer { m in
            for p in range {
                for i in 0..<per { sum[i] += m[p * per + i] }
            }
        }
        let scale = 1 / Float(range.count)
        return Tensor(shape: Array(maps.shape.dropFirst()), scalars: sum.map { $0 * scale })
    }

    /// Rows `indices` of x [N, ...] stacked in that order.
    func gather(_ x: Tensor, _ indices: [Int]) -> Tensor {
        let per = x.count / x.shape[0]
        var out = [Float]()
        out.reserveCapacity(per * indices.count)
        for i in indices { out.append(contentsOf: x.scalars[(i * per)..<((i + 1) * per)]) }
        return Tensor(shape: [indices.count] + x.shape.dropFirst(), scalars: out)
    }

    func broadcast(_ x: Tensor, to n: Int) -> Tensor {
        gather(x, Array(repeating: 0, count: n))
    }
}

/// Why a part could not be inspected.
public enum InspectionError: Error, CustomStringConvertible, Equatable {
    case missingViews(modality: Modality, view: String)
    case bankDoesNotFit(path: String, problem: String)
    case badViewShape(view: String, found: [Int], expected: [Int])
    case internalState(String)
    /// The caller's cancellation check answered true; `before` names the step that did not run.
    /// Nothing of the part's result is returned.
    case cancelled(before: String)

    public var description: String {
        switch self {
        case let .missingViews(modality, view):
            return "modality '\(modality.rawValue)' needs the \(view) view(s), which this part lacks"
        case let .badViewShape(view, found, expected):
            return "the \(view) view(s) have shape \(found), expected \(expected)"
        case let .bankDoesNotFit(path, problem):
            return "bank file \(path) \(problem)"
        case let .internalState(what):
            return "internal error: \(what)"
        case let .cancelled(stage):
            return "the inspection was cancelled before \(stage)"
        }
    }
}

/// Wall-clock laps for the per-stage timings.
struct Stopwatch {
    private var last = DispatchTime.now().uptimeNanoseconds

    mutating func lap() -> Double {
        let now = DispatchTime.now().uptimeNanoseconds
        defer { last = now }
        return Double(now - last) / 1e9
    }
}
