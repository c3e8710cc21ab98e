// HandshakeProfile: the PLC handshake's GPIO lines (six outputs, one trigger input on one
// chip), their polarity, the trigger's edge and kernel debounce, and levels versus pulses.

import MVADCapture

/// How results are presented to the PLC.
public enum ResultMode: String, ProfileChoice, Sendable {
    /// PASS/FAIL/RESULT_VALID stay until the next trigger.
    case level
    /// PASS/FAIL/RESULT_VALID go high for `pulse_ms`, then low.
    case pulse
}

/// Which trigger edge starts a part.
public enum TriggerEdge: String, ProfileChoice, Sendable {
    case rising, falling
}

/// The six handshake outputs.
public struct HandshakeOutputLines: Codable, Equatable, Sendable {
    public var ready: LineSelector
    public var busy: LineSelector
    public var pass: LineSelector
    public var fail: LineSelector
    public var resultValid: LineSelector
    public var fault: LineSelector

    enum CodingKeys: String, CodingKey, CaseIterable {
        case ready, busy, pass, fail, fault
        case resultValid = "result_valid"
    }

    public init(ready: LineSelector, busy: LineSelector, pass: LineSelector, fail: LineSelector,
                resultValid: LineSelector, fault: LineSelector) {
        self.ready = ready
        self.busy = busy
        self.pass = pass
        self.fail = fail
        self.resultValid = resultValid
        self.fault = fault
    }

    public init(from decoder: Decoder) throws {
        try StrictDecoding.rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ready = try c.decode(LineSelector.self, forKey: .ready)
        busy = try c.decode(LineSelector.self, forKey: .busy)
        pass = try c.decode(LineSelector.self, forKey: .pass)
        fail = try c.decode(LineSelector.self, forKey: .fail)
        resultValid = try c.decode(LineSelector.self, forKey: .resultValid)
        fault = try c.decode(LineSelector.self, forKey: .fault)
    }

    /// The lines in output order: READY, BUSY, PASS, FAIL, RESULT_VALID, FAULT.
    public var ordered: [LineSelector] { [ready, busy, pass, fail, resultValid, fault] }
}

/// The PLC handshake on one GPIO chip.
public struct HandshakeProfile: Codable, Equatable, Sendable {
    public var chip: String
    public var outputs: HandshakeOutputLines
    public var trigger: LineSelector
    public var triggerEdge: TriggerEdge = .rising
    /// Kernel debounce of the trigger input, microseconds (0 = none).
    public var debounceMicroseconds: Int = 5000
    /// false: an output is asserted by driving it low.
    public var activeHigh: Bool = true
    public var resultMode: ResultMode = .level
    /// Width of result pulses (result_mode = pulse).
    public var pulseMilliseconds: Int = 100
    public var consumer: String = "mvad-station"

    enum CodingKeys: String, CodingKey, CaseIterable {
        case chip, outputs, trigger, consumer
        case triggerEdge = "trigger_edge"
        case debounceMicroseconds = "debounce_us"
        case activeHigh = "active_high"
        case resultMode = "result_mode"
        case pulseMilliseconds = "pulse_ms"
    }

    public init(chip: String, outputs: HandshakeOutputLines, trigger: LineSelector) {
        self.chip = chip
        self.outputs = outputs
        self.trigger = trigger
    }

    public init(from decoder: Decoder) throws {
        try StrictDecoding.rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        chip = try c.decode(String.self, forKey: .chip)
        outputs = try c.decode(HandshakeOutputLines.self, forKey: .outputs)
        trigger = try c.decode(LineSelector.self, forKey: .trigger)
        triggerEdge = try c.decodeIfPresent(TriggerEdge.self, forKey: .triggerEdge) ?? .rising
        debounceMicroseconds = try c.decodeIfPresent(Int.self, forKey: .debounceMicroseconds)
            ?? 5000
        activeHigh = try c.decodeIfPresent(Bool.self, forKey: .activeHigh) ?? true
        resultMode = try c.decodeIfPresent(ResultMode.self, forKey: .resultMode) ?? .level
        pulseMilliseconds = try c.decodeIfPresent(Int.self, forKey: .pulseMilliseconds) ?? 100
        consumer = try c.decodeIfPresent(String.self, forKey: .consumer) ?? "mvad-station"
    }
}
