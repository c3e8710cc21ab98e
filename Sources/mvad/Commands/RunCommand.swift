// `mvad run --profile P`: the station loop: one JSON line per part on stdout, levelled logs on
// stderr; SIGTERM/SIGINT fail the current part, release the lines and exit 0 within 2 s; a
// closed stdout stops the loop the same way and exits 1.

import Foundation
import MVADCapture
import MVADStation

enum RunCommand: Command {
    static let name = "run"
    static let summary = "run the station loop: trigger, capture or replay, inspect, tell the PLC"

    static let specs = [
        OptionSpec(name: "--profile", value: "P", help: "station profile (firmware-profiles/*.json)"),
        OptionSpec(name: "--once", value: nil, help: "inspect one part now, then exit"),
        OptionSpec(name: "--stdin-trigger", value: nil,
                   help: "a line on standard input triggers a part (benches without GPIO)"),
        OptionSpec(name: "--cycles", value: "N",
                   help: "stop after N parts (replay cycles through its folder)"),
        OptionSpec(name: "--no-gpio", value: nil,
                   help: "ignore the profile's handshake (no lines are requested)"),
    ]

    static let help = helpText(
        usage: "mvad run --profile P [--once | --stdin-trigger] [--cycles N]",
        summary: summary, specs: specs, details: """
        Output, one JSON line per part: part_number, part_id, time (UTC), verdict (pass/fail),
        fault, fault_kind and reason when the station failed, score, rgb_score, normals_score,
        threshold, stage_s (acquire, load, encode, inversion, features, scoring, save, total),
        capture_controls, trigger_ns, triggers_while_busy, saved_to; the last line of a run
        bounded by --cycles (or one replay pass) also holds process {start, end} {rss_kb,
        open_fds}. Logs go to stderr as 'mvad: <time> <level>: <message>'.
        Trigger: --once; --stdin-trigger; else the handshake's TRIGGER line; else (replay) one
        pass over the folder. Any fault fails the part with FAIL + FAULT and keeps READY low
        until the source recovers. PASS must be wired energise-to-pass: a dead process or an
        unpowered line reads as not OK. With NOTIFY_SOCKET set (systemd Type=notify) READY=1,
        WATCHDOG=1 at half of WATCHDOG_USEC and STOPPING=1 are sent. See docs/STATION.md.
        """)

    /// The profile's part source: its replay folder, or its camera and lights.
    static func partSource(_ profile: StationProfile, system: any SystemCalls) throws -> PartSource {
        switch profile.source {
        case .replay:
            return try ReplaySource(folder: profile.replay?.parts ?? "")
        case .capture:
            guard let capture = profile.capture else { throw CommandFailure("no capture section") }
            return try CaptureSource(profile: capture, workFolder: profile.workFolder,
                                     system: system)
        }
    }

    static func run(_ arguments: [String]) throws {
        let args = try ParsedArguments(arguments, specs: specs, command: name)
        try args.noPositional()
        let profilePath = try args.required("--profile")
        let cycles = try args.int("--cycles", range: 1...100_000_000)
        if args.has("--once") && args.has("--stdin-trigger") {
            throw UsageError(message: "run: give --once or --stdin-trigger, not both")
        }
        if args.has("--once") && cycles != nil {
            throw UsageError(message: "run: --once inspects one part; leave out --cycles")
        }
        let profile: StationProfile
        do {
            profile = try StationProfile.load(path: profilePath)
        } catch {
            throw CommandFailure(ProfileCommand.report(error))
        }
        let system = LinuxSystemCalls()
        log(.info, "station '\(profile.station)': loading model \(profile.model.path)")
        let inspection = try PartInspection(profile: profile.model)
        if let threshold = inspection.inspector.threshold {
            log(.info, String(format: "threshold %.6g", threshold)
                + " (\(inspection.thresholdOrigin))")
        }
        let source = try partSource(profile, system: system)
        var handshake: Handshake?
        if let lines = profile.handshake, !args.has("--no-gpio") {
            handshake = try Handshake(profile: lines, system: system)
        }
        let trigger: TriggerSource
        var maximum = cycles
        if args.has("--once") {
            trigger = .immediate
            maximum = 1
        } else if args.has("--stdin-trigger") {
            trigger = .standardInput
        } else if handshake != nil {
            trigger = .gpio
        } else if profile.source == .replay {
            trigger = .immediate
            maximum = cycles ?? source.partsPerPass
        } else {
            throw UsageError(message: "run: the profile has no handshake; give --once or "
                             + "--stdin-trigger")
        }
        let rejects = try profile.rejects.map {
            try RejectStore(folder: $0.folder, maximumBytes: $0.maximumBytes)
        }
        let cancellation = StationCancellation()
        let signals = watchSignals(cancellation)
        // A closed stdout (the PLC gateway gone) is an error to report, not a silent SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        let outputLost = OutputLost()
        let loop = StationLoop(
            source: source, inspection: inspection, handshake: handshake, trigger: trigger,
            rejects: rejects, heatmaps: profile.rejects?.heatmaps ?? false,
            notifier: try SystemdNotifier(environment: ProcessInfo.processInfo.environment),
            system: system, cancellation: cancellation,
            reporter: StationReporter(record: { record in
                guard let failure = emit(record.jsonLine()) else { return }
                if outputLost.mark() {
                    log(.error, "cannot write to standard output (\(failure)): part records "
                        + "cannot be delivered; stopping")
                }
                cancellation.cancel()
            }, log: log))
        loop.maximumParts = maximum
        loop.intervalMilliseconds = profile.replay?.intervalMilliseconds ?? 0
        log(.info, "running: trigger \(trigger), "
            + (maximum.map { $0 == 1 ? "1 part" : "\($0) parts" } ?? "until stopped"))
        let summary = loop.run()
        signals.forEach { $0.cancel() }
        log(.info, summaryLine(summary))
        if outputLost.happened {
            throw CommandFailure("run: stopped because standard output could not be written")
        }
    }

    static func summaryLine(_ s: StationSummary) -> String {
        var text = "run: \(s.parts) part\(s.parts == 1 ? "" : "s"), \(s.passed) pass, "
            + "\(s.failed) fail (\(s.faults) faults), \(s.triggersWhileBusy) triggers while busy"
        if let f = s.figures {
            text += "; RSS \(f.start.residentKilobytes) kB at start, \(f.end.residentKilobytes) kB "
                + "at end; open fds \(f.start.openDescriptors) at start, "
                + "\(f.end.openDescriptors) at end"
        }
        return text
    }

    /// SIGTERM and SIGINT set the cancellation flag, which also interrupts an inspection between
    /// its steps; if the loop has not finished 1.8 s later (one step longer than that), the
    /// process ends with status 0 and the kernel releases the lines, which reads as "not OK" at
    /// the PLC.
    static func watchSignals(_ cancellation: StationCancellation) -> [DispatchSourceSignal] {
        [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                cancellation.cancel()
                log(.info, "signal \(number): failing the current part and stopping")
                DispatchQueue.global().asyncAfter(deadline: .now() + 1.8) {
                    log(.warning, "still busy 1.8 s after the signal: exiting; the kernel "
                        + "releases the lines")
                    _exit(0)
                }
            }
            source.resume()
            return source
        }
    }

    /// One JSON line, written at once (a PLC gateway may read it as it comes).
    /// Writes one line to stdout in full; nil when done, else why not (the system's words).
    static func emit(_ line: String) -> String? {
        let bytes = Array((line + "\n").utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes {
                Glibc.write(STDOUT_FILENO, $0.baseAddress, $0.count)
            }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                return count < 0 ? String(cString: strerror(errno)) : "nothing written"
            }
            written += count
        }
        return nil
    }

    /// Set once when stdout fails; read after the loop.
    final class OutputLost: @unchecked Sendable {
        private let lock = NSLock()
        private var lost = false
        /// Marks the loss; true the first time.
        func mark() -> Bool {
            lock.lock()
            defer { lock.unlock() }
            let first = !lost
            lost = true
            return first
        }
        var happened: Bool {
            lock.lock()
            defer { lock.unlock() }
            return lost
        }
    }

    static func log(_ level: LogLevel, _ message: String) {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let line = "mvad: \(formatter.string(from: Date())) \(level.rawValue): \(message)\n"
        FileHandle.standardError.write(Data(line.utf8))
    }
}
