// `mvad bench`: times the full-size components and prints each as a ratio against PyTorch
// (diffusers, fp32, same thread count), run one after the other in the same invocation.

import Foundation
import MVADEngine

enum BenchCommand: Command {
    static let name = "bench"
    static let summary = "time UNet, ControlNet and VAE encoder against PyTorch on this machine"

    static let specs = [
        OptionSpec(name: "--models", value: "DIR",
                   help: "folder with unet/, controlnet/, vae/ (tools/reference/full_size.py make)"),
        OptionSpec(name: "--threads", value: "N", help: "threads for mvad and torch (default: all cores)"),
        OptionSpec(name: "--repeats", value: "R", help: "timed runs per component (default 3)"),
        OptionSpec(name: "--only", value: "LIST", help: "comma list of unet, controlnet, vae"),
        OptionSpec(name: "--python", value: "PATH",
                   help: "Python with torch + diffusers (default tools/reference/.venv/bin/python)"),
        OptionSpec(name: "--no-torch", value: nil, help: "time mvad only, print no ratios"),
        OptionSpec(name: "--json", value: nil, help: "print one JSON object instead of a table"),
    ]

    static let help = helpText(
        usage: "mvad bench --models DIR [--threads N] [--repeats R]", summary: summary, specs: specs,
        details: """
        Workloads (the engine issue's): one UNet evaluation at batch 6 with a 32 x 32 latent,
        one ControlNet evaluation at batch 6 (256 x 256 condition), one VAE encode at batch 6
        of 256 x 256 images. Each is run once to warm up, then R times; medians are compared.
        PyTorch runs afterwards through tools/reference/bench_torch.py with the same threads.
        Peak memory is the resident high-water mark (VmHWM) of each process.
        """)

    static func run(_ arguments: [String]) throws {
        let args = try ParsedArguments(arguments, specs: specs, command: name)
        try args.noPositional()
        let models = try args.required("--models")
        let threads = try args.int("--threads", range: 1...256) ?? Compute.onlineCores
        let repeats = try args.int("--repeats", default: 3, range: 1...100) ?? 3
        let list = args.string("--only") ?? "unet,controlnet,vae"
        let only = Set(list.split(separator: ",").map(String.init))
        for part in only where !["unet", "controlnet", "vae"].contains(part) {
            throw UsageError(message: "\(name): --only takes unet, controlnet, vae; got '\(part)'")
        }
        let compute = Compute(threads: threads)
        let workloads = try BenchWorkloads(models: models, only: only)
        log("mvad: timing with \(threads) threads, \(repeats) runs each")
        var mvadTimes: [String: [Double]] = [:]
        for (key, run) in workloads.runs {
            log("mvad: \(key)")
            mvadTimes[key] = try time(repeats: repeats) { try run(compute) }
        }
        let mvadPeak = peakResidentMB()

        var torch: TorchTimings? = nil
        if !args.has("--no-torch") {
            torch = try TorchTimings.measure(
                python: args.string("--python") ?? "tools/reference/.venv/bin/python",
                models: models, threads: threads, repeats: repeats, only: only.sorted())
        }
        let report = BenchReport(threads: threads, repeats: repeats, mvad: mvadTimes,
                                 mvadPeakMB: mvadPeak, torch: torch)
        print(args.has("--json") ? report.json() : report.table())
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
