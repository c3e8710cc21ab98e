// LightSwitch: the station's lights as one interface (GPIO lines or an external command), and
// the light pattern of each of the six lit views.

import Foundation

/// Errors switching lights.
public enum LightError: Error, Equatable, CustomStringConvertible {
    case gpio(GPIOError)
    /// The light command could not be started or exited non-zero.
    case commandFailed(command: [String], status: Int32, output: String)
    /// The light command did not finish in time.
    case commandTimedOut(command: [String], milliseconds: Int)

    public var description: String {
        switch self {
        case .gpio(let error): return error.description
        case .commandFailed(let command, let status, let output):
            let tail = output.isEmpty ? "" : ": \(output)"
            return "light command '\(command.joined(separator: " "))' failed with status "
                + "\(status)\(tail)"
        case .commandTimedOut(let command, let milliseconds):
            return "light command '\(command.joined(separator: " "))' did not finish within "
                + "\(milliseconds) ms"
        }
    }
}

/// The station's directional lights.
public protocol LightSwitch: AnyObject {
    /// The number of directional lights.
    var count: Int { get }
    /// Lights exactly the lights in `lit` (indices 0..<count) and returns the CLOCK_MONOTONIC
    /// time by which the switch was done.
    func show(_ lit: Set<Int>) throws(LightError) -> UInt64
}

/// The lights of the six views the model expects: views 0...4 light one directional light
/// each, in the profile's order; view 5 lights all of them.
public enum ViewLighting {
    public static func lights(forView view: Int, lightCount: Int) -> Set<Int> {
        precondition(view >= 0 && view <= lightCount, "view \(view) of \(lightCount + 1)")
        return view < lightCount ? [view] : Set(0..<lightCount)
    }
}

/// Lights on GPIO output lines, held for the life of this object.
public final class GPIOLights: LightSwitch {
    public let chip: GPIOChip
    public let offsets: [Int]
    private let request: GPIOLineRequest
    private let activeHigh: Bool
    private let system: any SystemCalls

    /// Opens the chip, finds the lines (by name or offset) and requests them as outputs, all
    /// lights off.
    public init(profile: GPIOLightsProfile, system: any SystemCalls) throws(LightError) {
        do {
            chip = try GPIOChip(path: profile.chip, system: system)
            var offsets: [Int] = []
            for selector in profile.lines {
                switch selector {
                case .name(let name): offsets.append(try chip.offset(ofLineNamed: name))
                case .offset(let offset):
                    _ = try chip.lineInfo(offset: offset)        // checks the range
                    offsets.append(offset)
                }
            }
            self.offsets = offsets
            request = try chip.request(offsets: offsets,
                                       direction: .output(initialValue: !profile.activeHigh),
                                       consumer: profile.consumer)
        } catch {
            throw LightError.gpio(error)
        }
        activeHigh = profile.activeHigh
        self.system = system
    }

    public var count: Int { offsets.count }

    public func show(_ lit: Set<Int>) throws(LightError) -> UInt64 {
        let values = offsets.indices.map { lit.contains($0) == activeHigh }
        do {
            try request.set(values)
        } catch {
            throw LightError.gpio(error)
        }
        return system.monotonicNanoseconds()
    }
}

/// Lights switched by an external program (serial light controllers). `set` runs once per
/// light switched on; `all_off` runs first, `all_on` for the all-lights view.
public final class CommandLights: LightSwitch {
    public let profile: CommandLightsProfile
    private let system: any SystemCalls

    public init(profile: CommandLightsProfile, system: any SystemCalls) {
        self.profile = profile
        self.system = system
    }

    public var count: Int { profile.lightCount }

    public func show(_ lit: Set<Int>) throws(LightError) -> UInt64 {
        if lit.count == count && count > 1 {
            try run(profile.allOn)
        } else {
            try run(profile.allOff)
            for light in lit.sorted() {
                try run(profile.set.map { $0.replacingOccurrences(of: "{light}", with: "\(light)") })
            }
        }
        return system.monotonicNanoseconds()
    }

    /// Runs the command (no shell), waiting at most the profile's timeout.
    // FIXME: output beyond the pipe's buffer (64 KiB) blocks the command until the timeout,
    // since the pipe is only read after it exits; light tools print a line or two.
    private func run(_ command: [String]) throws(LightError) {
        guard let program = command.first else { return }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = Array(command.dropFirst())
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        do {
            try process.run()
        } catch {
            throw LightError.commandFailed(command: command, status: -1,
                                           output: error.localizedDescription)
        }
        let deadline = Date().addingTimeInterval(Double(profile.timeoutMilliseconds) / 1000)
        while process.isRunning && Date() < deadline { usleep(1_000) }
        if process.isRunning {
            process.terminate()
            throw LightError.commandTimedOut(command: command, milliseconds: profile.timeoutMilliseconds)
        }
        guard process.terminationStatus == 0 else {
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(),
                              as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw LightError.commandFailed(command: command, status: process.terminationStatus,
                                           output: String(text.prefix(200)))
        }
    }
}
