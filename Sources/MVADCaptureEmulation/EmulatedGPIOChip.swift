// EmulatedGPIOChip: a GPIO character device (uAPI v2): chip info, line info with names and
// consumers, line requests (EBUSY for lines in use), output values with a timed history (what
// the lights did when), and inputs with kernel debounce and timestamped edge events.

import CLinuxUAPI
import MVADCapture

/// An emulated gpiochip.
public final class EmulatedGPIOChip: EmulatedNode {
    struct Line {
        let name: String
        var consumer = ""
        var holder: Int?                   // request handle holding the line
        var isOutput = false
        var debounceNanoseconds: UInt64 = 0
        var edges = false
        var level = false                  // the value seen by the requester
        var history: [(time: UInt64, value: Bool)] = [(0, false)]
        var raw = false                    // the electrical input level (before debounce)
        var rawChanged: UInt64 = 0
    }

    struct Request {
        let offsets: [Int]
        var events: [gpio_v2_line_event] = []
        var sequence: UInt32 = 0
    }

    public let label: String
    private var lines: [Line]
    private var requests: [Int: Request] = [:]
    private var nextHandle = 1
    private var now: UInt64 = 0
    /// Output lines whose load is disconnected: set, but the light does not come on.
    public var disconnected = Set<Int>()

    public init(label: String, lineNames: [String]) {
        self.label = label
        lines = lineNames.map { Line(name: $0) }
    }

    /// Another process holds the line (its requests fail with EBUSY).
    public func claimExternally(offset: Int, consumer: String) {
        lines[offset].consumer = consumer
        lines[offset].holder = -1
    }

    /// Whether line `offset` was driven high at `time` (and its load is connected).
    public func isLit(offset: Int, at time: UInt64) -> Bool {
        guard !disconnected.contains(offset) else { return false }
        return lines[offset].history.last { $0.time <= time }?.value ?? false
    }

    /// The changes of an output line: (time, value) pairs, oldest first.
    public func history(offset: Int) -> [(time: UInt64, value: Bool)] {
        lines[offset].history
    }

    /// Changes the electrical level of an input line now (a sensor or a bouncing switch).
    public func drive(offset: Int, to value: Bool) {
        guard lines[offset].raw != value else { return }
        lines[offset].raw = value
        lines[offset].rawChanged = now
        if lines[offset].debounceNanoseconds == 0 { settle(offset, at: now) }
    }

    // MARK: EmulatedNode

    public func open(kernel: EmulatedKernel) throws(Errno) -> Int {
        now = max(now, kernel.now)
        return 0                                   // handle 0: the chip itself
    }

    public func close(handle: Int) {
        guard handle != 0, let request = requests.removeValue(forKey: handle) else { return }
        for offset in request.offsets {
            lines[offset].holder = nil
            lines[offset].consumer = ""
            lines[offset].edges = false
        }
    }

    public func mmap(handle: Int, length: Int, offset: Int) throws(Errno)
        -> UnsafeMutableRawPointer {
        throw Errno.noDevice
    }

    public func munmap(_ address: UnsafeMutableRawPointer, length: Int) {}

    public func poll(handle: Int) -> PollEvents {
        guard let request = requests[handle] else { return [] }
        return request.events.isEmpty ? [] : [.input, .readNormal]
    }

    public func nextEventTime(after now: UInt64) -> UInt64? {
        lines.filter { $0.edges && $0.raw != $0.level }
            .map { $0.rawChanged + $0.debounceNanoseconds }.min()
    }

    public func read(handle: Int, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        guard var request = requests[handle] else { throw Errno.invalid }
        let size = MemoryLayout<gpio_v2_line_event>.stride
        guard buffer.count >= size else { throw Errno.invalid }
        guard !request.events.isEmpty else { throw Errno.again }
        let count = min(request.events.count, buffer.count / size)
        for index in 0..<count {
            buffer.baseAddress?.advanced(by: index * size)
                .storeBytes(of: request.events[index], as: gpio_v2_line_event.self)
        }
        request.events.removeFirst(count)
        requests[handle] = request
        return count * size
    }

    public func advance(to time: UInt64) {
        guard time > now else { return }
        for offset in lines.indices
        where lines[offset].edges && lines[offset].raw != lines[offset].level {
            let stable = lines[offset].rawChanged + lines[offset].debounceNanoseconds
            if stable <= time { settle(offset, at: stable) }
        }
        now = time
    }

    /// The input's level has been stable long enough: it becomes the line's value and, with
    /// edge detection on, an event stamped with the time it was accepted.
    private func settle(_ offset: Int, at time: UInt64) {
        let value = lines[offset].raw
        guard lines[offset].level != value else { return }
        lines[offset].level = value
        lines[offset].history.append((time, value))
        guard lines[offset].edges, let handle = lines[offset].holder,
              var request = requests[handle] else { return }
        request.sequence += 1
        var event = gpio_v2_line_event()
        event.timestamp_ns = time
        event.id = value ? GPIO_V2_LINE_EVENT_RISING_EDGE.rawValue
            : GPIO_V2_LINE_EVENT_FALLING_EDGE.rawValue
        event.offset = UInt32(offset)
        event.seqno = request.sequence
        event.line_seqno = request.sequence
        request.events.append(event)
        requests[handle] = request
    }

    // MARK: ioctls

    public func ioctl(handle: Int, request: UInt, argument: UnsafeMutableRawPointer,
                      kernel: EmulatedKernel) throws(Errno) {
        now = max(now, kernel.now)
        if handle == 0 {
            switch request {
            case mvad_request_gpio_get_chipinfo(): chipInfo(argument)
            case mvad_request_gpio_v2_get_lineinfo(): try lineInfo(argument)
            case mvad_request_gpio_v2_get_line(): try requestLines(argument, kernel: kernel)
            default: throw Errno.notTTY
            }
            return
        }
        guard let held = requests[handle] else { throw Errno.badFile }
        switch request {
        case mvad_request_gpio_v2_line_set_values(): try setValues(argument, held)
        case mvad_request_gpio_v2_line_get_values(): getValues(argument, held)
        default: throw Errno.notTTY
        }
    }

    private func chipInfo(_ argument: UnsafeMutableRawPointer) {
        var info = gpiochip_info()
        FixedName.write("gpiochip-emulated", into: &info.name)
        FixedName.write(label, into: &info.label)
        info.lines = UInt32(lines.count)
        argument.storeBytes(of: info, as: gpiochip_info.self)
    }

    private func lineInfo(_ argument: UnsafeMutableRawPointer) throws(Errno) {
        var info = argument.load(as: gpio_v2_line_info.self)
        let offset = Int(info.offset)
        guard offset < lines.count else { throw Errno.invalid }
        let line = lines[offset]
        FixedName.write(line.name, into: &info.name)
        FixedName.write(line.consumer, into: &info.consumer)
        var flags = UInt64(line.isOutput ? GPIO_V2_LINE_FLAG_OUTPUT.rawValue
                           : GPIO_V2_LINE_FLAG_INPUT.rawValue)
        if line.holder != nil { flags |= UInt64(GPIO_V2_LINE_FLAG_USED.rawValue) }
        info.flags = flags
        argument.storeBytes(of: info, as: gpio_v2_line_info.self)
    }

    private func requestLines(_ argument: UnsafeMutableRawPointer, kernel: EmulatedKernel)
        throws(Errno) {
        var request = argument.load(as: gpio_v2_line_request.self)
        let count = Int(request.num_lines)
        guard count > 0 && count <= Int(GPIO_V2_LINES_MAX) else { throw Errno.invalid }
        let offsets = withUnsafeBytes(of: request.offsets) { raw in
            (0..<count).map { Int(raw.load(fromByteOffset: $0 * 4, as: UInt32.self)) }
        }
        guard offsets.allSatisfy({ $0 < lines.count }), Set(offsets).count == count else {
            throw Errno.invalid
        }
        if offsets.contains(where: { lines[$0].holder != nil }) { throw Errno.busy }
        let config = request.config
        let output = config.flags & UInt64(GPIO_V2_LINE_FLAG_OUTPUT.rawValue) != 0
        let edges = config.flags & UInt64(GPIO_V2_LINE_FLAG_EDGE_RISING.rawValue
                                          | GPIO_V2_LINE_FLAG_EDGE_FALLING.rawValue) != 0
        guard !(output && edges) else { throw Errno.invalid }
        var initial: UInt64 = 0
        var debounce: UInt32 = 0
        withUnsafeBytes(of: config.attrs) { raw in
            let attributes = raw.bindMemory(to: gpio_v2_line_config_attribute.self)
            for attribute in attributes.prefix(Int(config.num_attrs)) {
                if attribute.attr.id == GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES.rawValue {
                    initial = attribute.attr.values & attribute.mask
                } else if attribute.attr.id == GPIO_V2_LINE_ATTR_ID_DEBOUNCE.rawValue {
                    debounce = attribute.attr.debounce_period_us
                }
            }
        }
        let handle = nextHandle
        nextHandle += 1
        let consumer = FixedName.read(request.consumer)
        for (index, offset) in offsets.enumerated() {
            lines[offset].holder = handle
            lines[offset].consumer = consumer
            lines[offset].isOutput = output
            lines[offset].edges = edges
            lines[offset].debounceNanoseconds = UInt64(debounce) * 1_000
            if output { record(offset, value: initial & (UInt64(1) << index) != 0) }
            else { lines[offset].level = lines[offset].raw }
        }
        requests[handle] = Request(offsets: offsets)
        request.fd = kernel.allocateDescriptor(node: self, handle: handle)
        argument.storeBytes(of: request, as: gpio_v2_line_request.self)
    }

    private func record(_ offset: Int, value: Bool) {
        guard lines[offset].level != value else { return }
        lines[offset].level = value
        lines[offset].history.append((now, value))
    }

    private func setValues(_ argument: UnsafeMutableRawPointer, _ held: Request) throws(Errno) {
        let values = argument.load(as: gpio_v2_line_values.self)
        for (index, offset) in held.offsets.enumerated() where values.mask & (UInt64(1) << index) != 0 {
            guard lines[offset].isOutput else { throw Errno.notPermitted }
            record(offset, value: values.bits & (UInt64(1) << index) != 0)
        }
    }

    private func getValues(_ argument: UnsafeMutableRawPointer, _ held: Request) {
        var values = argument.load(as: gpio_v2_line_values.self)
        var bits: UInt64 = 0
        for (index, offset) in held.offsets.enumerated() where lines[offset].level {
            bits |= UInt64(1) << index
        }
        values.bits = bits & values.mask
        argument.storeBytes(of: values, as: gpio_v2_line_values.self)
    }
}
