// `mvad bench`: times the full-size components and a full part, and prints each as a speed-up
// over PyTorch (diffusers, fp32) and ONNX Runtime int8, run one after the other in the same
// invocation with the same thread count.

import Foundation
import MVADEngine
import MVADKernels

enum BenchCommand: Command {
    static let name = "bench"
    static let summary = "time the full-size models and a full part against PyTorch and ONNX Runtime"

    static let workloads = ["unet", "controlnet", "unet+controlnet", "vae", "part"]

    static let specs = [
        OptionSpec(name: "--models", value: "DIR",
                   help: "float folders unet/, controlnet/, vae/ (tools/reference/full_size.py "
                       + "make): what PyTorch runs, and mvad too without --model"),
        OptionSpec(name: "--model", value: "M",
                   help: "what mvad runs instead: a .mvad pack (e.g. int8) or a model folder "
                       + "with settings.json; needed for the full part"),
        OptionSpec(name: "--part", value: "PREFIX",
                   help: "the part for the full-part workload: PREFIX_image_0..5, PREFIX_normals "
                       + "(default $MVAD_SHARED_DIR/data/eyecandies/GummyBear-full/000)"),
        OptionSpec(name: "--onnx", value: "DIR",
                   help: "also time ONNX Runtime int8 (tools/reference/export_onnx.py output)"),
        OptionSpec(name: "--threads", value: "N", help: "threads for every side (default: all cores)"),
        OptionSpec(name: "--repeats", value: "R", help: "timed runs per component (default 3)"),
        OptionSpec(name: "--part-repeats", value: "R", help: "timed runs of the full part (default 1)"),
        OptionSpec(name: "--only", value: "LIST",
                   help: "comma list of " + workloads.joined(separator: ", ")
                       + " (default unet+controlnet,vae,part; part needs --model)"),
        OptionSpec(name: "--python", value: "PATH",
                   help: "Python with torch + diffusers (default tools/reference/.venv/bin/python)"),
        OptionSpec(name: "--no-torch", value: nil, help: "time mvad (and ORT) only"),
        OptionSpec(name: "--json", value: nil, help: "print one JSON object instead of a table"),
    ]

    static let help = helpText(
        usage: "mvad bench --models DIR [--model PACK] [--onnx DIR] [--threads N] [--repeats R]",
        summary: summary, specs: specs, details: """
        Workloads at the method's size: a UNet and a ControlNet evaluation at batch 6 (32 x 32
        latents, 256 x 256 conditions), both together, a VAE encode at batch 6 of 256 x 256
        images, and one full part as an inspection runs it (7 VAE encodes, 12 pairs x 6 UNet +
        ControlNet evaluations). Each runs once to warm up, then R times; medians compared.
        PyTorch (diffusers, fp32) runs afterwards in tools/reference/bench_torch.py and, for the
        part, bench_pipeline.py; ONNX Runtime in bench_onnx.py (its part is estimated from its
        components). All with the same thread count, one after the other. Peak memory is each
        process's resident high-water mark (VmHWM). With int8 weights the report also gives
        the int8 operations per second of the UNet + ControlNet evaluation against the
        machine's int8 peak, measured with a register-only loop of the fastest kernel path.
        """)

    static func run(_ arguments: [String]) throws {
        let args = try ParsedArguments(arguments, specs: specs, command: name)
        try args.noPositional()
        let models = try args.required("--models")
        let threads = try args.int("--threads", range: 1...256) ?? Compute.onlineCores
        let repeats = try args.int("--repeats", default: 3, range: 1...100) ?? 3
        let partRepeats = try args.int("--part-repeats", default: 1, range: 1...100) ?? 1
        let model = args.string("--model")
        let list = args.string("--only")
            ?? (model == nil ? "unet+controlnet,vae" : "unet+controlnet,vae,part")
        let only = Set(list.split(separator: ",").map(String.init))
        for part in only where !workloads.contains(part) {
            throw UsageError(message: "\(name): --only takes "
                             + "\(workloads.joined(separator: ", ")); got '\(part)'")
        }
        if only.contains("part"), model == nil {
            throw UsageError(message: "\(name): the part workload needs --model (a pack or a model folder)")
        }
        let shared = ProcessInfo.processInfo.environment["MVAD_SHARED_DIR"] ?? "../shared"
        let part = args.string("--part") ?? shared + "/data/eyecandies/GummyBear-full/000"

        let compute = Compute(threads: threads)
        let loaded = try model.map(BenchModels.inspection) ?? BenchModels.folders(models, only: only)
        let workloads = try BenchWorkloads(models: loaded, only: only, part: part)
        log("mvad: timing with \(threads) threads, \(repeats) runs each")
        var mvadTimes: [String: [Double]] = [:]
        var multiplyAdds: UInt64 = 0
        var partPeak: Double?
        for (key, run) in workloads.runs {
            log("mvad: \(key)")
            let before = mvad_gemm_s8_multiply_adds()
            let runs = key == "part" ? partRepeats : repeats
            mvadTimes[key] = try time(repeats: runs) { try run(compute) }
            if key == "unet+controlnet" {
                multiplyAdds = (mvad_gemm_s8_multiply_adds() - before) / UInt64(runs + 1)
            }
            // The part runs first, so this high-water mark is that of a full inspection.
            if key == "part" { partPeak = peakResidentMB() }
        }
        let mvadPeak = peakResidentMB()
        let throughput = multiplyAdds > 0
            ? Int8Throughput.measure(threads: threads, multiplyAdds: multiplyAdds) : nil

        let baselines = try measureBaselines(args, models: models, part: part, threads: threads,
                                             repeats: repeats, only: only)
        let report = BenchReport(threads: threads, repeats: repeats, mvad: mvadTimes,
                                 mvadPeakMB: mvadPeak, mvadPartPeakMB: partPeak,
                                 baselines: baselines, throughput: throughput)
        print(args.has("--json") ? report.json() : report.table())
    }

    /// PyTorch (unless --no-torch) and ONNX Runtime (with --onnx), each in its own process.
    private static func measureBaselines(_ args: ParsedArguments, models: String, part: String,
                                         threads: Int, repeats: Int,
                                         only: Set<String>) throws -> [Baseline] {
        let python = args.string("--python") ?? "tools/reference/.venv/bin/python"
        var components = only.intersection(["unet", "controlnet", "vae"])
        if only.contains("unet+controlnet") { components.formUnion(["unet", "controlnet"]) }
        let common = ["--threads", "\(threads)", "--repeats", "\(repeats)"]
        var baselines: [Baseline] = []
        if !args.has("--no-torch") {
            let parts = components.isEmpty ? nil : try ExternalTimings.measure(
                python: python, script: "tools/reference/bench_torch.py",
                arguments: ["--models", models, "--only", components.sorted().joined(separator: ",")]
                    + common)
            let whole = only.contains("part") ? try ExternalTimings.measure(
                python: python, script: "tools/reference/bench_pipeline.py",
                arguments: ["--models", models, "--part", part, "--threads", "\(threads)"]) : nil
            baselines.append(.torch(components: parts, part: whole))
        }
        if let onnx = args.string("--onnx") {
            var wanted = components
            if only.contains("part") { wanted.formUnion(["unet", "controlnet", "vae"]) }
            baselines.append(.onnx(try ExternalTimings.measure(
                python: python, script: "tools/reference/bench_onnx.py",
                arguments: ["--onnx", onnx, "--only", wanted.sorted().joined(separator: ",")]
                    + common)))
        }
        return baselines
    }

    static func time(repeats: Int, _ body: () throws -> Void) throws -> [Double] {
        try body()                                    // warm-up
        return try (0..<repeats).map { _ in
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
    }

    static func log(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}

/// VmHWM of this process in MB, from /proc/self/status.
func peakResidentMB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kilobytes = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
        return kilobytes / 1024
    }
    return 0
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
