// LineTrigger: a line of input as the trigger, for benches without GPIO: the descriptor
// (standard input in `mvad run --stdin-trigger`) is polled through the system-call layer, each
// newline is one trigger, and the end of the input ends the run.

import MVADCapture

/// Lines of input, counted as triggers.
struct LineTrigger {
    enum Outcome: Equatable { case nothing, lines(Int), ended }

    private var ended = false
    private let descriptor: Int32

    init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// Waits up to `milliseconds` for input; returns the complete lines read.
    mutating func wait(system: any SystemCalls, milliseconds: Int) -> Outcome {
        if ended { return .ended }
        let ready: PollEvents
        do {
            ready = try system.poll(descriptor, events: [.input],
                                    timeoutMilliseconds: Int32(clamping: milliseconds))
        } catch {
            return error == .interrupted ? .nothing : .ended
        }
        guard !ready.isDisjoint(with: [.input, .hangUp, .error]) else { return .nothing }
        let lines = readLines(system: system)
        if lines > 0 { return .lines(lines) }
        return ended ? .ended : .nothing
    }

    /// Lines typed while a part was handled (without waiting).
    mutating func takePending(system: any SystemCalls) -> Int {
        guard !ended, let ready = try? system.poll(descriptor, events: [.input],
                                                   timeoutMilliseconds: 0),
              ready.contains(.input) else { return 0 }
        return readLines(system: system)
    }

    /// One read of what is there; counts newlines, notes the end of input.
    private mutating func readLines(system: any SystemCalls) -> Int {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { raw -> Int in
            (try? system.read(descriptor, into: raw)) ?? 0
        }
        if count == 0 { ended = true }
        return buffer.prefix(count).filter { $0 == UInt8(ascii: "\n") }.count
    }
}
