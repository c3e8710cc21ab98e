// mvad's own small argument parser: each command declares its options; the parser checks
// what was typed against them and explains every mistake.

/// One option a command accepts.
struct OptionSpec {
    let name: String                     // "--model"
    let value: String?                   // placeholder ("DIR"); nil for a flag
    let help: String
    var isFlag: Bool { value == nil }
}

/// A mistake on the command line; exits with status 2.
struct UsageError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// The options and positional arguments of one invocation, checked against the specs.
struct ParsedArguments {
    private(set) var values: [String: String] = [:]
    private(set) var flags: Set<String> = []
    private(set) var positional: [String] = []
    let command: String

    init(_ arguments: [String], specs: [OptionSpec], command: String) throws {
        self.command = command
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            // Options start with "-" ("--name" or a short "-o"); "-" alone and negative
            // numbers are values.
            guard argument.hasPrefix("-"), argument.count > 1, Double(argument) == nil else {
                positional.append(argument)
                continue
            }
            var name = argument
            var inline: String? = nil
            if let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                inline = String(argument[argument.index(after: equals)...])
            }
            guard let spec = specs.first(where: { $0.name == name }) else {
                throw UsageError(message: Self.unknownOption(name, specs: specs, command: command))
            }
            if spec.isFlag {
                if inline != nil {
                    throw UsageError(message: "\(command): \(name) takes no value")
                }
                flags.insert(name)
                continue
            }
            let value: String
            if let inline {
                value = inline
            } else if index < arguments.count, !Self.looksLikeOption(arguments[index]) {
                value = arguments[index]
                index += 1
            } else {
                throw UsageError(message: "\(command): \(name) needs a value (\(spec.value ?? ""))")
            }
            // Every option holds one value: a second one would silently replace the first.
            if let first = values[name] {
                throw UsageError(message: "\(command): \(name) is given twice ('\(first)' and "
                    + "'\(value)'); it takes one value")
            }
            values[name] = value
        }
    }

    private static func looksLikeOption(_ text: String) -> Bool {
        text.hasPrefix("-") && text.count > 1 && Double(text) == nil
    }

    private static func unknownOption(_ name: String, specs: [OptionSpec], command: String) -> String {
        let closest = specs.map(\.name).min {
            editDistance($0, name) < editDistance($1, name)
        }
        var message = "\(command): unknown option \(name)"
        if let closest, editDistance(closest, name) <= max(2, name.count / 3) {
            message += "; did you mean \(closest)?"
        }
        return message + " (see mvad \(command) --help)"
    }

    func has(_ flag: String) -> Bool { flags.contains(flag) }

    func string(_ name: String) -> String? { values[name] }

    func required(_ name: String) throws -> String {
        guard let value = values[name] else {
            throw UsageError(message: "\(command): \(name) is required (see mvad \(command) --help)")
        }
        return value
    }

    func int(_ name: String, default fallback: Int? = nil, range: ClosedRange<Int>? = nil) throws -> Int? {
        guard let text = values[name] else { return fallback }
        guard let value = Int(text) else {
            throw UsageError(message: "\(command): \(name) must be a whole number, got '\(text)'")
        }
        if let range, !range.contains(value) {
            throw UsageError(message: "\(command): \(name) must be in \(range.lowerBound)..."
                             + "\(range.upperBound), got \(value)")
        }
        return value
    }

    func float(_ name: String, default fallback: Float? = nil) throws -> Float? {
        guard let text = values[name] else { return fallback }
        guard let value = Float(text), value.isFinite else {
            throw UsageError(message: "\(command): \(name) must be a number, got '\(text)'")
        }
        return value
    }

    func choice(_ name: String, from choices: [String], default fallback: String? = nil) throws -> String? {
        guard let value = values[name] else { return fallback }
        guard choices.contains(value) else {
            throw UsageError(message: "\(command): \(name) must be one of "
                             + "\(choices.joined(separator: ", ")), got '\(value)'")
        }
        return value
    }

    func noPositional() throws {
        if let first = positional.first {
            throw UsageError(message: "\(command): unexpected argument '\(first)'")
        }
    }
}

/// Levenshtein distance, for "did you mean" suggestions.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    var previous = Array(0...b.count)
    for i in 1...max(1, a.count) where !a.isEmpty {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...max(1, b.count) where !b.isEmpty {
            current[j] = min(previous[j] + 1, current[j - 1] + 1,
                             previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return a.isEmpty ? b.count : previous[b.count]
}

/// Formats a command's help page.
func helpText(usage: String, summary: String, specs: [OptionSpec], details: String = "") -> String {
    var lines = ["usage: \(usage)", "", summary, "", "options:"]
    let width = specs.map { $0.name.count + ($0.value.map { $0.count + 1 } ?? 0) }.max() ?? 0
    for spec in specs {
        let left = spec.name + (spec.value.map { " " + $0 } ?? "")
        lines.append("  " + left.padding(toLength: width + 2, withPad: " ", startingAt: 0) + spec.help)
    }
    if !details.isEmpty { lines += ["", details] }
    return lines.joined(separator: "\n")
}

import Foundation
