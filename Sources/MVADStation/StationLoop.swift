// StationLoop: wait for a trigger, take the part, inspect it, tell the PLC, report one record;
// any fault fails the part (FAIL + FAULT) and keeps READY low until the source recovers. The
// library never prints: records and levelled log lines go to the reporter's closures.

import Foundation
import MVADCapture
import MVADInspect

/// What starts a part.
public enum TriggerSource: Sendable, Equatable {
    /// The handshake's TRIGGER input edge.
    case gpio
    /// A line read from a descriptor (0: standard input, for benches without GPIO); the end of
    /// the input ends the run.
    case lines(descriptor: Int32)

    public static let standardInput = TriggerSource.lines(descriptor: 0)
    /// At once, part after part (replay, `--once`).
    case immediate
}

extension TriggerSource: CustomStringConvertible {
    public var description: String {
        switch self {
        case .gpio: return "the TRIGGER line"
        case .lines(0): return "a line on standard input"
        case let .lines(descriptor): return "a line on descriptor \(descriptor)"
        case .immediate: return "none (parts run one after another)"
        }
    }
}

public enum LogLevel: String, Sendable { case debug, info, warning, error }

/// Where the loop reports: one record per part, and log lines.
public struct StationReporter {
    public var record: (PartRecord) -> Void
    public var log: (LogLevel, String) -> Void

    public init(record: @escaping (PartRecord) -> Void,
                log: @escaping (LogLevel, String) -> Void) {
        self.record = record
        self.log = log
    }
}

/// The station's stop flag, set from a signal handler (any thread): the loop fails the current
/// part, interrupting its inspection, and stops.
public typealias StationCancellation = CancellationFlag

/// Totals of a run.
public struct StationSummary: Equatable, Sendable {
    public var parts = 0
    public var passed = 0
    public var failed = 0
    public var faults = 0
    public var triggersWhileBusy = 0
    public var figures: SoakFigures?
}

/// The station loop.
public final class StationLoop {
    let source: PartSource
    let inspection: PartInspection
    let handshake: Handshake?
    let trigger: TriggerSource
    let rejects: RejectStore?
    let heatmaps: Bool
    let notifier: SystemdNotifier?
    let system: any SystemCalls
    /// Asked between parts, before the inspection, and by the inspection itself.
    let cancellation: any CancellationCheck
    let reporter: StationReporter
    /// Stop after this many parts (nil: until cancelled or input ends).
    public var maximumParts: Int?
    /// Pause between immediate triggers (replay's interval_ms).
    public var intervalMilliseconds = 0
    /// How long one wait for a trigger lasts before the loop looks at cancellation, the
    /// watchdog and recovery again.
    public var waitSliceMilliseconds = 100
    public private(set) var healthy = true
    public private(set) var summary = StationSummary()
    private var extraTriggers = 0
    private var lineInput = LineTrigger(descriptor: 0)

    public init(source: PartSource, inspection: PartInspection, handshake: Handshake?,
                trigger: TriggerSource, rejects: RejectStore?, heatmaps: Bool = true,
                notifier: SystemdNotifier?, system: any SystemCalls,
                cancellation: any CancellationCheck, reporter: StationReporter) {
        precondition(trigger != .gpio || handshake != nil, "a GPIO trigger needs the handshake")
        self.source = source
        self.inspection = inspection
        self.handshake = handshake
        self.trigger = trigger
        self.rejects = rejects
        self.heatmaps = heatmaps
        self.notifier = notifier
        self.system = system
        self.cancellation = cancellation
        self.reporter = reporter
        if case .lines(let descriptor) = trigger { lineInput = LineTrigger(descriptor: descriptor) }
    }

    /// Runs until cancelled, the input ends or `maximumParts` parts are done; then releases the
    /// handshake lines (all de-asserted) and tells systemd it is stopping.
    @discardableResult
    public func run() -> StationSummary {
        let start = ProcessFigures.now()
        setOutputs { $0.ready = true }
        notify { try $0.ready(status: "waiting for parts") }
        loop: while !cancellation.isCancelled {
            if let maximumParts, summary.parts >= maximumParts { break }
            notify { try $0.pingIfDue(now: self.system.monotonicNanoseconds()) }
            if !healthy { tryToRecover() }
            let when: UInt64?
            switch waitForTrigger() {
            case .stop: break loop
            case .nothing: continue
            case .trigger(let time): when = time
            }
            var record = handlePart(number: summary.parts + 1, triggerNanoseconds: when)
            if let maximumParts, summary.parts == maximumParts {
                record.process = SoakFigures(start: start, end: ProcessFigures.now())
                summary.figures = record.process
            }
            reporter.record(record)
        }
        if summary.figures == nil { summary.figures = SoakFigures(start: start, end: .now()) }
        notify { try $0.stopping() }
        handshake?.release()
        return summary
    }

    private enum Wait { case stop, nothing, trigger(UInt64?) }

    /// A trigger (with the edge time for GPIO), nothing yet, or the end of the input.
    private func waitForTrigger() -> Wait {
        switch trigger {
        case .immediate:
            if summary.parts > 0 && intervalMilliseconds > 0 {
                system.sleep(nanoseconds: UInt64(intervalMilliseconds) * 1_000_000)
            }
            return .trigger(nil)
        case .lines:
            switch lineInput.wait(system: system, milliseconds: waitSliceMilliseconds) {
            case .ended: return .stop
            case .nothing: return .nothing
            case .lines(let count):
                extraTriggers += count - 1
                return .trigger(nil)
            }
        case .gpio:
            guard let handshake else { return .stop }
            do {
                let edges = try handshake.waitForTriggers(milliseconds: waitSliceMilliseconds)
                guard let first = edges.first else { return .nothing }
                extraTriggers += edges.count - 1
                return .trigger(first.timestampNanoseconds)
            } catch {
                reporter.log(.error, "trigger input: \(error)")
                healthy = false
                system.sleep(nanoseconds: UInt64(waitSliceMilliseconds) * 1_000_000)
                return .nothing
            }
        }
    }

    private func tryToRecover() {
        guard source.recover() else { return }
        healthy = true
        setOutputs {
            $0.fault = false
            $0.ready = true
        }
        reporter.log(.info, "recovered: READY again")
    }

    /// One part from trigger to presented result.
    private func handlePart(number: Int, triggerNanoseconds: UInt64?) -> PartRecord {
        let started = DispatchTime.now().uptimeNanoseconds
        var record = PartRecord(partNumber: number, time: Date())
        record.triggerNanoseconds = triggerNanoseconds
        setOutputs {
            $0.ready = false
            $0.busy = true
            $0.pass = false
            $0.fail = false
            $0.resultValid = false
        }
        var acquired: AcquiredPart?
        var result: (StationResult, LoadedPart)?
        do throws(StationFault) {
            var clock = DispatchTime.now().uptimeNanoseconds
            let part = try source.acquire(partNumber: number)
            acquired = part
            record.partID = part.id
            record.captureControls = part.capture?.controls
            record.stageSeconds["acquire_s"] = StationLoop.seconds(since: &clock)
            if cancellation.isCancelled {
                throw StationFault(.stopped, "the station was stopped (SIGTERM or SIGINT) before the verdict")
            }
            let inspected = try inspection.inspect(part.views, cancellation: cancellation)
            result = inspected
            for (stage, seconds) in inspected.0.timings { record.stageSeconds[stage] = seconds }
            record.score = inspected.0.score
            record.rgbScore = inspected.0.inspection.rgbScore
            record.normalsScore = inspected.0.inspection.normalsScore
            record.threshold = inspected.0.threshold
            record.verdict = inspected.0.inspection.passed == true ? .pass : .fail
            if inspected.0.inspection.passed == nil { record.reason = "no threshold" }
            if !healthy {
                healthy = true                            // a part went through: recovered
                reporter.log(.info, "recovered: part \(number) inspected")
            }
            // A stop during the scoring, after the inspection's last check, still fails the part.
            if cancellation.isCancelled { throw StationFault.stoppedDuringInspection }
        } catch {
            if error.kind == .stopped {
                record.verdict = .fail
                record.reason = error.reason
            } else {
                record.setFault(error)
                healthy = false
                reporter.log(.error, "part \(number): \(error)")
            }
        }
        if record.verdict == .fail, let acquired { save(&record, acquired, result) }
        present(record)
        record.triggersWhileBusy = countTriggersWhileBusy()
        record.stageSeconds["total_s"] =
            Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        summary.parts += 1
        if record.verdict == .pass { summary.passed += 1 } else { summary.failed += 1 }
        if record.fault { summary.faults += 1 }
        summary.triggersWhileBusy += record.triggersWhileBusy
        return record
    }

    private func present(_ record: PartRecord) {
        guard let handshake else { return }
        do {
            try handshake.present(pass: record.verdict == .pass, fault: record.fault,
                                  ready: healthy && !cancellation.isCancelled)
        } catch {
            healthy = false
            reporter.log(.error, "part \(record.partNumber): result not presented: \(error)")
        }
    }

    private func countTriggersWhileBusy() -> Int {
        var count = extraTriggers
        extraTriggers = 0
        switch trigger {
        case .gpio:
            count += (try? handshake?.takeTriggersWhileBusy().count) ?? 0
        case .lines:
            count += lineInput.takePending(system: system)
        case .immediate:
            break
        }
        if count > 0 {
            reporter.log(.warning, "\(count) trigger(s) arrived while busy: counted, not queued")
        }
        return count
    }

    /// Saves a rejected part's views, heatmap and record; a failure to save is logged only.
    private func save(_ record: inout PartRecord, _ part: AcquiredPart,
                      _ result: (StationResult, LoadedPart)?) {
        guard let rejects else { return }
        var clock = DispatchTime.now().uptimeNanoseconds
        let views = (0..<PartViews.lightCount).map { PartView.light($0) } + [.normals]
        let files = views.compactMap { part.views.url(of: $0) }
        let snapshot = record
        do {
            let folder = try rejects.save(partNumber: record.partNumber, id: part.id,
                                          copying: files, time: Date()) { folder in
                if self.heatmaps, let (inspected, loaded) = result {
                    try self.inspection.writeHeatmap(
                        inspected, part: loaded, to: folder.appendingPathComponent("heatmap.png"))
                }
                try Data(snapshot.jsonLine().utf8).write(
                    to: folder.appendingPathComponent("record.json"))
            }
            record.savedTo = folder.path
        } catch {
            reporter.log(.warning, "part \(record.partNumber): rejected part not saved: \(error)")
        }
        record.stageSeconds["save_s"] = StationLoop.seconds(since: &clock)
    }

    private func setOutputs(_ change: (inout HandshakeOutputs) -> Void) {
        guard let handshake else { return }
        do {
            try handshake.update(change)
        } catch {
            healthy = false
            reporter.log(.error, "handshake outputs: \(error)")
        }
    }

    private func notify(_ action: (SystemdNotifier) throws -> Void) {
        guard let notifier else { return }
        do {
            try action(notifier)
        } catch {
            reporter.log(.warning, "\(error)")
        }
    }

    static func seconds(since clock: inout UInt64) -> Double {
        let now = DispatchTime.now().uptimeNanoseconds
        defer { clock = now }
        return Double(now - clock) / 1e9
    }
}
