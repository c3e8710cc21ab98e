// GPIOLineRequest: lines held by this process through one uAPI v2 line request: set output
// values, read values, wait for and read timestamped edge events; released on deinit.

import CLinuxUAPI

/// One edge on an input line (struct gpio_v2_line_event).
public struct GPIOEdgeEvent: Equatable, Sendable {
    public enum Edge: Sendable { case rising, falling }
    /// CLOCK_MONOTONIC nanoseconds (the kernel's default event clock).
    public let timestampNanoseconds: UInt64
    public let offset: Int
    public let edge: Edge
    /// The kernel's sequence number of the event on this request.
    public let sequence: UInt32

    public init(timestampNanoseconds: UInt64, offset: Int, edge: Edge, sequence: UInt32) {
        self.timestampNanoseconds = timestampNanoseconds
        self.offset = offset
        self.edge = edge
        self.sequence = sequence
    }
}

/// Lines held by this process. The kernel releases them when the request's descriptor closes,
/// which `deinit` does.
public final class GPIOLineRequest {
    public let chip: String
    public let offsets: [Int]
    let system: any SystemCalls
    private let descriptor: Int32

    init(chip: String, system: any SystemCalls, descriptor: Int32, offsets: [Int]) {
        self.chip = chip
        self.system = system
        self.descriptor = descriptor
        self.offsets = offsets
    }

    deinit {
        system.close(descriptor)
    }

    /// Drives the lines: `values[i]` for `offsets[i]` (GPIO_V2_LINE_SET_VALUES_IOCTL).
    public func set(_ values: [Bool]) throws(GPIOError) {
        precondition(values.count == offsets.count,
                     "\(values.count) values for \(offsets.count) lines")
        var request = gpio_v2_line_values()
        for (index, value) in values.enumerated() {
            request.mask |= UInt64(1) << index
            if value { request.bits |= UInt64(1) << index }
        }
        do {
            try system.ioctl(descriptor, mvad_request_gpio_v2_line_set_values(), &request)
        } catch {
            throw GPIOError.callFailed(chip: chip, call: "GPIO_V2_LINE_SET_VALUES_IOCTL",
                                       errno: error)
        }
    }

    /// The lines' current values (GPIO_V2_LINE_GET_VALUES_IOCTL).
    public func values() throws(GPIOError) -> [Bool] {
        var request = gpio_v2_line_values()
        request.mask = offsets.count == 64 ? UInt64.max : (UInt64(1) << offsets.count) - 1
        do {
            try system.ioctl(descriptor, mvad_request_gpio_v2_line_get_values(), &request)
        } catch {
            throw GPIOError.callFailed(chip: chip, call: "GPIO_V2_LINE_GET_VALUES_IOCTL",
                                       errno: error)
        }
        return offsets.indices.map { request.bits & (UInt64(1) << $0) != 0 }
    }

    /// Waits up to `milliseconds` for edge events, then reads every event pending.
    public func waitForEvents(milliseconds: Int) throws(GPIOError) -> [GPIOEdgeEvent] {
        let ready: PollEvents
        do {
            ready = try system.poll(descriptor, events: [.input],
                                    timeoutMilliseconds: Int32(clamping: milliseconds))
        } catch {
            throw GPIOError.callFailed(chip: chip, call: "poll", errno: error)
        }
        guard ready.contains(.input) else { return [] }
        return try readEvents()
    }

    /// Reads the pending events (one read of up to 16 struct gpio_v2_line_event).
    public func readEvents() throws(GPIOError) -> [GPIOEdgeEvent] {
        let size = MemoryLayout<gpio_v2_line_event>.size
        var storage = [gpio_v2_line_event](repeating: gpio_v2_line_event(), count: 16)
        let result = storage.withUnsafeMutableBytes { raw -> Result<Int, Errno> in
            do throws(Errno) {
                return .success(try system.read(descriptor, into: raw))
            } catch {
                return .failure(error)
            }
        }
        let count: Int
        switch result {
        case .success(let bytes): count = bytes
        case .failure(let error): throw GPIOError.callFailed(chip: chip, call: "read", errno: error)
        }
        guard count % size == 0 else {
            throw GPIOError.shortEventRead(chip: chip, bytes: count, expected: size)
        }
        return storage.prefix(count / size).map { event in
            GPIOEdgeEvent(timestampNanoseconds: event.timestamp_ns, offset: Int(event.offset),
                          edge: event.id == GPIO_V2_LINE_EVENT_RISING_EDGE.rawValue
                            ? .rising : .falling,
                          sequence: event.line_seqno)
        }
    }
}
