// Handshake: the PLC lines of a station on a GPIO chip (uAPI v2): six outputs (READY, BUSY,
// PASS, FAIL, RESULT_VALID, FAULT) held in one line request, a debounced trigger input with
// timestamped edges, results as levels or pulses, triggers while busy counted.

import MVADCapture

/// The state of the six outputs (true = asserted).
public struct HandshakeOutputs: Equatable, Sendable {
    public var ready = false
    public var busy = false
    public var pass = false
    public var fail = false
    public var resultValid = false
    public var fault = false

    public init() {}

    /// In line order: READY, BUSY, PASS, FAIL, RESULT_VALID, FAULT.
    var ordered: [Bool] { [ready, busy, pass, fail, resultValid, fault] }
}

/// Why the handshake lines could not be had.
public struct HandshakeError: Error, CustomStringConvertible {
    public let line: String
    public let cause: GPIOError
    public var description: String { "handshake \(line): \(cause.description)" }
}

/// The station's side of the PLC handshake. De-energised (all lines low, or the process gone)
/// means "not OK": PASS must be wired energise-to-pass.
public final class Handshake {
    public let profile: HandshakeProfile
    let system: any SystemCalls
    private var chip: GPIOChip?
    private var outputLines: GPIOLineRequest?
    private var triggerLine: GPIOLineRequest?
    public private(set) var outputs = HandshakeOutputs()

    /// Opens the chip and requests the outputs (all de-asserted) and the trigger input.
    /// A line held by another process is an error naming it and its consumer.
    public init(profile: HandshakeProfile, system: any SystemCalls) throws(HandshakeError) {
        self.profile = profile
        self.system = system
        let opened: GPIOChip
        do {
            opened = try GPIOChip(path: profile.chip, system: system)
        } catch {
            throw HandshakeError(line: "chip", cause: error)
        }
        chip = opened
        let names = ["READY", "BUSY", "PASS", "FAIL", "RESULT_VALID", "FAULT"]
        var offsets: [Int] = []
        for (name, selector) in zip(names, profile.outputs.ordered) {
            offsets.append(try Handshake.offset(selector, on: opened, name: name))
        }
        let trigger = try Handshake.offset(profile.trigger, on: opened, name: "TRIGGER")
        do {
            outputLines = try opened.request(
                offsets: offsets, direction: .output(initialValue: !profile.activeHigh),
                consumer: profile.consumer)
        } catch {
            throw HandshakeError(line: "outputs", cause: error)
        }
        do {
            triggerLine = try opened.request(
                offsets: [trigger],
                direction: .inputWithEdges(debounceMicroseconds: UInt32(profile.debounceMicroseconds)),
                consumer: profile.consumer)
        } catch {
            outputLines = nil
            throw HandshakeError(line: "TRIGGER", cause: error)
        }
    }

    private static func offset(_ selector: LineSelector, on chip: GPIOChip, name: String)
        throws(HandshakeError) -> Int {
        switch selector {
        case .offset(let offset): return offset
        case .name(let lineName):
            do {
                return try chip.offset(ofLineNamed: lineName)
            } catch {
                throw HandshakeError(line: name, cause: error)
            }
        }
    }

    /// Drives all six outputs in one SET_VALUES ioctl.
    public func drive(_ state: HandshakeOutputs) throws(GPIOError) {
        guard let outputLines else { return }
        try outputLines.set(state.ordered.map { $0 == profile.activeHigh })
        outputs = state
    }

    /// Changes some outputs, leaving the others as they are.
    public func update(_ change: (inout HandshakeOutputs) -> Void) throws(GPIOError) {
        var state = outputs
        change(&state)
        try drive(state)
    }

    /// A new part: the previous result is withdrawn, BUSY goes high, READY low.
    public func beginPart() throws(GPIOError) {
        try update {
            $0.pass = false
            $0.fail = false
            $0.resultValid = false
            $0.busy = true
            $0.ready = false
        }
    }

    /// Presents a result: PASS or FAIL (and FAULT) first, then RESULT_VALID with BUSY low, so
    /// the PLC never sees RESULT_VALID before the verdict. In pulse mode the result lines drop
    /// after pulse_ms (FAULT stays until the station recovers). READY follows `ready`.
    public func present(pass: Bool, fault: Bool, ready: Bool) throws(GPIOError) {
        try update {
            $0.pass = pass
            $0.fail = !pass
            $0.fault = fault
        }
        try update {
            $0.resultValid = true
            $0.busy = false
        }
        if profile.resultMode == .pulse {
            system.sleep(nanoseconds: UInt64(profile.pulseMilliseconds) * 1_000_000)
            try update {
                $0.pass = false
                $0.fail = false
                $0.resultValid = false
            }
        }
        try update { $0.ready = ready }
    }

    /// Waits up to `milliseconds` for trigger edges; returns those read (oldest first, empty on
    /// timeout). Edges of the other direction are consumed.
    public func waitForTriggers(milliseconds: Int) throws(GPIOError) -> [GPIOEdgeEvent] {
        guard let triggerLine else { return [] }
        let events = try triggerLine.waitForEvents(milliseconds: milliseconds)
        let wanted: GPIOEdgeEvent.Edge = profile.triggerEdge == .rising ? .rising : .falling
        return events.filter { $0.edge == wanted }
    }

    /// Reads the trigger edges that arrived while a part was being handled (not queued).
    public func takeTriggersWhileBusy() throws(GPIOError) -> [GPIOEdgeEvent] {
        guard let triggerLine else { return [] }
        let wanted: GPIOEdgeEvent.Edge = profile.triggerEdge == .rising ? .rising : .falling
        var taken: [GPIOEdgeEvent] = []
        while true {
            let events = try triggerLine.waitForEvents(milliseconds: 0)
            if events.isEmpty { return taken }
            taken += events.filter { $0.edge == wanted }
        }
    }

    /// De-asserts every output and gives the lines back to the kernel.
    public func release() {
        try? drive(HandshakeOutputs())
        outputLines = nil
        triggerLine = nil
        chip = nil
    }

    deinit {
        release()
    }
}
