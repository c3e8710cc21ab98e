// The bench's workloads (full-size models on seeded random inputs), the PyTorch side run as
// a subprocess, and the report.

import Foundation
import MVADEngine

/// Seeded inputs: a 64-bit LCG mapped to roughly normal values (sum of uniforms).
struct SeededValues {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> Float {
        var sum: Float = 0
        for _ in 0..<4 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            sum += Float(state >> 40) / Float(1 << 24)
        }
        return (sum - 2) * 1.7320508
    }

    mutating func tensor(_ shape: [Int], scale: Float = 1, offset: Float = 0) -> Tensor {
        Tensor(shape: shape, scalars: (0..<Tensor.elementCount(shape)).map { _ in next() * scale + offset })
    }
}

struct BenchWorkloads {
    /// (name, one timed run), in the report's order.
    var runs: [(String, (Compute) throws -> Void)] = []

    /// Seeded inputs at the method's size: batch 6, 32 x 32 latents, 256 px images.
    init(models: BenchModels, only: Set<String>, part: String?) throws {
        var random = SeededValues(seed: 2026)
        let batch = 6
        let latent = random.tensor([batch, 4, 32, 32])
        let timesteps = [Float](repeating: 81, count: batch)
        let context = models.inspection.map { BenchWorkloads.repeated($0.context, batch) }
            ?? random.tensor([batch, 77, 768], scale: 0.5)
        let condition = random.tensor([batch, 3, 256, 256], scale: 0.25, offset: 0.5)
        // The part first: the high-water mark after it is that of a full inspection.
        if only.contains("part"), let model = models.inspection, let part {
            let workload = try PartWorkload(model: model, prefix: part)
            runs.append(("part", { c in try workload.run(c) }))
        }
        if only.contains("unet"), let unet = models.unet {
            runs.append(("unet", { c in
                _ = try unet(sample: latent, timesteps: timesteps, context: context, compute: c)
            }))
        }
        if only.contains("controlnet"), let net = models.control {
            runs.append(("controlnet", { c in
                _ = try net(sample: latent, timesteps: timesteps, context: context,
                            condition: condition, compute: c)
            }))
        }
        if only.contains("unet+controlnet"), let unet = models.unet, let net = models.control {
            runs.append(("unet+controlnet", { c in
                let residuals = try net(sample: latent, timesteps: timesteps, context: context,
                                        condition: condition, compute: c)
                _ = try unet(sample: latent, timesteps: timesteps, context: context,
                             residuals: residuals, compute: c)
            }))
        }
        if only.contains("vae"), let vae = models.vae {
            let image = random.tensor([batch, 3, 256, 256], scale: 0.5)
            runs.append(("vae", { c in _ = try vae.latentMean(image, compute: c) }))
        }
    }

    /// A [1, L, D] prompt repeated to [n, L, D].
    static func repeated(_ context: Tensor, _ n: Int) -> Tensor {
        Tensor(shape: [n] + Array(context.shape.dropFirst()),
               scalars: Array((0..<n).map { _ in context.scalars }.joined()))
    }
}

/// The JSON line a Python reference script printed (tools/reference/bench_torch.py,
/// bench_pipeline.py, bench_onnx.py): timings in seconds, a single value or a list of runs.
struct ExternalTimings {
    let script: String
    let values: [String: Any]

    /// Runs `script` with `arguments` and reads the last line of its standard output.
    static func measure(python: String, script: String, arguments: [String]) throws
        -> ExternalTimings {
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw BenchFailure(description: "bench: no Python at \(python); create the venv "
                               + "(tools/reference/README.md), pass --python PATH, or use --no-torch")
        }
        BenchCommand.log("bench: running \(script) \(arguments.joined(separator: " "))")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BenchFailure(description: "bench: \(script) exited with \(process.terminationStatus)")
        }
        let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)),
              let values = object as? [String: Any] else {
            throw BenchFailure(description: "bench: could not read \(script)'s JSON line '\(line)'")
        }
        return ExternalTimings(script: script, values: values)
    }

    /// The median of a list of runs, or the single value, under `key`.
    func seconds(_ key: String) -> Double? {
        if let runs = values[key] as? [Double] { return median(runs) }
        return (values[key] as? NSNumber)?.doubleValue
    }

    var peakMB: Double? { (values["peak_rss_mb"] as? NSNumber)?.doubleValue }

    func text(_ key: String) -> String { values[key].map { "\($0)" } ?? "?" }
}

/// The other side of one comparison: its seconds per workload, and how each was obtained.
struct Baseline {
    let name: String
    var seconds: [String: Double] = [:]
    var notes: [String] = []
    var peakMB: [String] = []

    /// PyTorch: components from bench_torch.py, the part from bench_pipeline.py.
    static func torch(components: ExternalTimings?, part: ExternalTimings?) -> Baseline {
        var result = Baseline(name: "torch")
        if let c = components {
            for key in ["unet", "controlnet", "vae"] { result.seconds[key] = c.seconds(key + "_s") }
            if let u = c.seconds("unet_s"), let n = c.seconds("controlnet_s") {
                result.seconds["unet+controlnet"] = u + n
            }
            result.peakMB.append(String(format: "%.0f MB (components)", c.peakMB ?? 0))
            result.notes.append("torch \(c.text("torch")) fp32; unet+controlnet = the sum of "
                                + "their medians")
        }
        if let p = part, let total = p.seconds("total_s") {
            // The views' decoding is left out, as mvad's part timing loads them beforehand.
            result.seconds["part"] = total - (p.seconds("load_s") ?? 0)
            result.peakMB.append(String(format: "%.0f MB (part)", p.peakMB ?? 0))
        }
        return result
    }

    /// ONNX Runtime int8 from bench_onnx.py; its full part is estimated from the components.
    static func onnx(_ o: ExternalTimings) -> Baseline {
        var result = Baseline(name: "ORT int8")
        for key in ["unet", "controlnet", "vae"] { result.seconds[key] = o.seconds(key + "_s") }
        if let u = o.seconds("unet_s"), let n = o.seconds("controlnet_s") {
            result.seconds["unet+controlnet"] = u + n
            if let v = o.seconds("vae_s") {
                // 12 batch-6 evaluations (5 inversion steps + the feature step, two
                // modalities) and 7 encodes; the last step's early stop is not credited.
                result.seconds["part"] = 12 * (u + n) + 7.0 / 6.0 * v
                result.notes.append("ORT part = 12 x (unet + controlnet) + 7/6 x vae (estimate)")
            }
        }
        result.peakMB.append(String(format: "%.0f MB", o.peakMB ?? 0))
        result.notes.append("onnxruntime \(o.text("onnxruntime")), \(o.text("quantization"))")
        return result
    }
}

struct BenchReport {
    let threads: Int
    let repeats: Int
    let mvad: [String: [Double]]
    let mvadPeakMB: Double
    /// The high-water mark right after the full part, which runs first.
    let mvadPartPeakMB: Double?
    let baselines: [Baseline]
    let throughput: Int8Throughput?

    static let labels = ["unet": "UNet, batch 6, 32x32 latent",
                         "controlnet": "ControlNet, batch 6, 32x32 latent",
                         "unet+controlnet": "UNet + ControlNet, batch 6",
                         "vae": "VAE encode, batch 6, 256 px",
                         "part": "full part (7 encodes, 72 evals)"]
    static let order = ["unet", "controlnet", "unet+controlnet", "vae", "part"]  // table rows

    var keys: [String] { Self.order.filter { mvad[$0] != nil } }

    func table() -> String {
        var lines = [String(format: "threads %d, median of %d runs (part: %d), OpenBLAS kernels %@",
                            threads, repeats, mvad["part"]?.count ?? 0, Compute.blasCoreName)]
        var header = "workload".padding(toLength: 34, withPad: " ", startingAt: 0) + "  mvad s"
        for b in baselines {
            header += "  " + (b.name + " s").leftPadded(10) + "  " + "x faster".leftPadded(8)
        }
        lines.append(header)
        for key in keys {
            let ours = median(mvad[key] ?? [])
            var line = (Self.labels[key] ?? key).padding(toLength: 34, withPad: " ", startingAt: 0)
                + String(format: "%8.3f", ours)
            for b in baselines {
                if let theirs = b.seconds[key] {
                    line += String(format: "  %10.3f  %8.2f", theirs, theirs / ours)
                } else {
                    line += "  " + "-".leftPadded(10) + "  " + "-".leftPadded(8)
                }
            }
            lines.append(line)
        }
        lines.append(String(format: "peak resident memory: mvad %.0f MB", mvadPeakMB)
                     + (mvadPartPeakMB.map { String(format: " (%.0f MB after the full part)", $0) } ?? "")
                     + baselines.map { ", \($0.name) " + $0.peakMB.joined(separator: ", ") }.joined())
        if let t = throughput, let time = mvad["unet+controlnet"].map(median) {
            let achieved = t.achievedGOPS(seconds: time)
            lines.append(String(format: "int8: UNet + ControlNet %.1f GOPS of a %.0f GOPS peak "
                                + "(%@, %d threads, tight loop): %.0f%%", achieved, t.peakGOPS,
                                t.path, threads, 100 * achieved / max(t.peakGOPS, 1e-9)))
        }
        for b in baselines { lines += b.notes }
        return lines.joined(separator: "\n")
    }

    func json() -> String {
        var object: [String: Any] = ["threads": threads, "repeats": repeats,
                                     "mvad_peak_rss_mb": mvadPeakMB,
                                     "mvad_part_peak_rss_mb": mvadPartPeakMB ?? 0,
                                     "openblas_core": Compute.blasCoreName]
        for key in keys {
            let ours = median(mvad[key] ?? [])
            object["\(key)_mvad_s"] = ours
            for b in baselines {
                let tag = b.name == "torch" ? "torch" : "onnx"
                if let theirs = b.seconds[key] {
                    object["\(key)_\(tag)_s"] = theirs
                    object["\(key)_speedup_vs_\(tag)"] = theirs / ours
                }
            }
        }
        if let t = throughput, let time = mvad["unet+controlnet"].map(median) {
            object["int8_peak_gops"] = t.peakGOPS
            object["int8_achieved_gops"] = t.achievedGOPS(seconds: time)
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
