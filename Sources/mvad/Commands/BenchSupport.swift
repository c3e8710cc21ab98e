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

    init(models: String, only: Set<String>) throws {
        var random = SeededValues(seed: 2026)
        let batch = 6
        let latent = random.tensor([batch, 4, 32, 32])
        let timesteps = [Float](repeating: 81, count: batch)
        let context = random.tensor([batch, 77, 768], scale: 0.5)
        if only.contains("unet") {
            BenchCommand.log("mvad: loading \(models)/unet")
            let unet = try DiffusersModels.unet(folder: models + "/unet")
            runs.append(("unet", { c in
                _ = try unet(sample: latent, timesteps: timesteps, context: context, compute: c)
            }))
        }
        if only.contains("controlnet") {
            BenchCommand.log("mvad: loading \(models)/controlnet")
            let net = try DiffusersModels.controlNet(folder: models + "/controlnet")
            let condition = random.tensor([batch, 3, 256, 256], scale: 0.25, offset: 0.5)
            runs.append(("controlnet", { c in
                _ = try net(sample: latent, timesteps: timesteps, context: context,
                            condition: condition, compute: c)
            }))
        }
        if only.contains("vae") {
            BenchCommand.log("mvad: loading \(models)/vae")
            let vae = try DiffusersModels.vaeEncoder(folder: models + "/vae")
            let image = random.tensor([batch, 3, 256, 256], scale: 0.5)
            runs.append(("vae", { c in _ = try vae.latentMean(image, compute: c) }))
        }
    }
}

/// What tools/reference/bench_torch.py reported.
struct TorchTimings: Decodable {
    let torch: String
    let threads: Int
    let unet_s: [Double]?
    let controlnet_s: [Double]?
    let vae_s: [Double]?
    let peak_rss_mb: Double

    func times(_ key: String) -> [Double]? {
        switch key {
        case "unet": return unet_s
        case "controlnet": return controlnet_s
        default: return vae_s
        }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func measure(python: String, models: String, threads: Int, repeats: Int,
                        only: [String]) throws -> TorchTimings {
        let script = "tools/reference/bench_torch.py"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw Failure(description: "bench: no Python at \(python); create the venv "
                          + "(tools/reference/README.md), pass --python PATH, or use --no-torch")
        }
        BenchCommand.log("torch: running \(script)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script, "--models", models, "--threads", "\(threads)",
                             "--repeats", "\(repeats)", "--only", only.joined(separator: ",")]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "bench: \(script) exited with \(process.terminationStatus)")
        }
        let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
        do {
            return try JSONDecoder().decode(TorchTimings.self, from: Data(line.utf8))
        } catch {
            throw Failure(description: "bench: could not read \(script)'s JSON line '\(line)': \(error)")
        }
    }
}

struct BenchReport {
    let threads: Int
    let repeats: Int
    let mvad: [String: [Double]]
    let mvadPeakMB: Double
    let torch: TorchTimings?

    static let labels = ["unet": "UNet, batch 6, 32x32 latent",
                         "controlnet": "ControlNet, batch 6, 32x32 latent",
                         "vae": "VAE encode, batch 6, 256 px"]

    var keys: [String] { ["unet", "controlnet", "vae"].filter { mvad[$0] != nil } }

    func table() -> String {
        var lines = [String(format: "threads %d, median of %d runs, OpenBLAS kernels %@",
                            threads, repeats, Compute.blasCoreName),
                     "workload                            mvad s    torch s   mvad/torch"]
        for key in keys {
            let ours = median(mvad[key] ?? [])
            let theirs = torch?.times(key).map(median)
            let label = (Self.labels[key] ?? key).padding(toLength: 34, withPad: " ", startingAt: 0)
            lines.append(label + String(format: "%8.3f", ours)
                         + (theirs.map { String(format: "  %8.3f  %10.2f", $0, ours / $0) } ?? ""))
        }
        lines.append(String(format: "peak resident memory: mvad %.0f MB", mvadPeakMB)
                     + (torch.map {
                         String(format: ", torch %.0f MB (torch %@)", $0.peak_rss_mb, $0.torch)
                     } ?? ""))
        return lines.joined(separator: "\n")
    }

    func json() -> String {
        var object: [String: Any] = ["threads": threads, "repeats": repeats,
                                     "mvad_peak_rss_mb": mvadPeakMB,
                                     "openblas_core": Compute.blasCoreName]
        for key in keys {
            let ours = median(mvad[key] ?? [])
            object["\(key)_mvad_s"] = ours
            if let theirs = torch?.times(key).map(median) {
                object["\(key)_torch_s"] = theirs
                object["\(key)_ratio"] = ours / theirs
            }
        }
        if let torch { object["torch_peak_rss_mb"] = torch.peak_rss_mb; object["torch"] = torch.torch }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
