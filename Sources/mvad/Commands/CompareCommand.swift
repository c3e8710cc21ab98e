// `mvad compare`: relative L2 and largest absolute difference of the tensors two safetensors
// files share, e.g. mvad's outputs against PyTorch's.

import Foundation
import MVADEngine

enum CompareCommand: Command {
    static let name = "compare"
    static let summary = "compare the tensors two safetensors files share (relative L2 error)"

    static let specs = [
        OptionSpec(name: "--limit", value: "E",
                   help: "fail (exit 1) when a relative L2 error exceeds E (default 1e-4)"),
    ]

    static let help = helpText(
        usage: "mvad compare ACTUAL.safetensors EXPECTED.safetensors [--limit E]",
        summary: summary, specs: specs, details: """
        For every tensor name in ACTUAL that EXPECTED also holds: shape, relative L2 error
        ||a - b|| / ||b|| and max |a - b|. Names in only one file are listed, not compared.
        """)

    struct Mismatch: Error, CustomStringConvertible {
        let description: String
    }

    static func run(_ arguments: [String]) throws {
        let args = try ParsedArguments(arguments, specs: specs, command: name)
        guard args.positional.count == 2 else {
            throw UsageError(message: "\(name): needs two files, ACTUAL and EXPECTED")
        }
        let limit = Double(try args.float("--limit", default: 1e-4) ?? 1e-4)
        guard limit >= 0 else {
            throw UsageError(message: "\(name): --limit must be >= 0, got \(limit)")
        }
        let actual = try SafeTensorsFile(path: args.positional[0])
        let expected = try SafeTensorsFile(path: args.positional[1])
        let shared = actual.names.filter { expected.info($0) != nil }
        var worst = 0.0
        for key in shared {
            let a = try actual.tensor(key)
            let b = try expected.tensor(key)
            guard a.shape == b.shape else {
                print("\(key): shapes differ, \(a.shape) vs \(b.shape)")
                worst = .infinity
                continue
            }
            var difference = 0.0, norm = 0.0, largest = 0.0
            for (x, y) in zip(a.scalars, b.scalars) {
                let d = Double(x) - Double(y)
                difference += d * d
                norm += Double(y) * Double(y)
                largest = max(largest, abs(d))
            }
            let relative = (difference / max(norm, 1e-30)).squareRoot()
            worst = max(worst, relative.isNaN ? .infinity : relative)
            print(key.padding(toLength: 28, withPad: " ", startingAt: 0)
                  + "\(a.shape)".padding(toLength: 18, withPad: " ", startingAt: 0)
                  + String(format: "rel L2 %.2e   max abs %.2e", relative, largest))
        }
        let unmatched = actual.names.filter { expected.info($0) == nil }
        if !unmatched.isEmpty { print("only in \(args.positional[0]): \(unmatched.joined(separator: ", "))") }
        guard !shared.isEmpty else { throw Mismatch(description: "compare: the files share no tensor name") }
        guard worst <= limit else {
            throw Mismatch(description: String(format: "compare: largest relative L2 error %.2e exceeds %.1e",
                                               worst, limit))
        }
        print(String(format: "%d tensors, largest relative L2 error %.2e (limit %.1e)",
                     shared.count, worst, limit))
    }
}
