// GPIOChip: a Linux GPIO character device (uAPI v2) through the system-call layer: chip info,
// line info (names, consumers), and line requests for outputs and debounced edge-detecting
// inputs.

import CLinuxUAPI

/// How a requested line is used.
public enum GPIOLineDirection: Equatable, Sendable {
    /// An output driven to `initialValue`.
    case output(initialValue: Bool)
    /// An input reporting both edges, debounced by the kernel for `debounceMicroseconds`
    /// (0 = none).
    case inputWithEdges(debounceMicroseconds: UInt32)
}

/// What the kernel says about one line.
public struct GPIOLineInfo: Equatable, Sendable {
    public let offset: Int
    public let name: String
    public let consumer: String
    public let isUsed: Bool
}

/// An open GPIO chip (/dev/gpiochipN).
public final class GPIOChip {
    public let path: String
    let system: any SystemCalls
    private var descriptor: Int32
    public let label: String
    public let lineCount: Int

    public init(path: String, system: any SystemCalls) throws(GPIOError) {
        self.path = path
        self.system = system
        do {
            descriptor = try system.open(path, flags: [.closeOnExec])
        } catch {
            throw GPIOError.openFailed(chip: path, errno: error)
        }
        var info = gpiochip_info()
        do {
            try system.ioctl(descriptor, mvad_request_gpio_get_chipinfo(), &info)
        } catch {
            system.close(descriptor)
            throw GPIOError.callFailed(chip: path, call: "GPIO_GET_CHIPINFO_IOCTL", errno: error)
        }
        label = FixedCString.read(info.label)
        lineCount = Int(info.lines)
    }

    deinit {
        if descriptor >= 0 { system.close(descriptor) }
    }

    /// GPIO_V2_GET_LINEINFO_IOCTL for one line.
    public func lineInfo(offset: Int) throws(GPIOError) -> GPIOLineInfo {
        guard offset >= 0 && offset < lineCount else {
            throw GPIOError.offsetOutOfRange(chip: path, offset: offset, lines: lineCount)
        }
        var info = gpio_v2_line_info()
        info.offset = UInt32(offset)
        do {
            try system.ioctl(descriptor, mvad_request_gpio_v2_get_lineinfo(), &info)
        } catch {
            throw GPIOError.callFailed(chip: path, call: "GPIO_V2_GET_LINEINFO_IOCTL", errno: error)
        }
        return GPIOLineInfo(offset: offset, name: FixedCString.read(info.name),
                            consumer: FixedCString.read(info.consumer),
                            isUsed: info.flags & UInt64(GPIO_V2_LINE_FLAG_USED.rawValue) != 0)
    }

    /// The offset of the line called `name`.
    public func offset(ofLineNamed name: String) throws(GPIOError) -> Int {
        var names: [String] = []
        for offset in 0..<lineCount {
            let info = try lineInfo(offset: offset)
            if info.name == name { return offset }
            if !info.name.isEmpty { names.append(info.name) }
        }
        throw GPIOError.noSuchLine(chip: path, name: name, available: names)
    }

    /// Requests lines for this process (GPIO_V2_GET_LINE_IOCTL); the request holds them until
    /// it is released. EBUSY (a line in use) names the current consumer.
    public func request(offsets: [Int], direction: GPIOLineDirection, consumer: String)
        throws(GPIOError) -> GPIOLineRequest {
        precondition(!offsets.isEmpty && offsets.count <= Int(GPIO_V2_LINES_MAX),
                     "a line request holds 1...\(GPIO_V2_LINES_MAX) lines, got \(offsets.count)")
        for offset in offsets where offset < 0 || offset >= lineCount {
            throw GPIOError.offsetOutOfRange(chip: path, offset: offset, lines: lineCount)
        }
        var request = gpio_v2_line_request()
        withUnsafeMutableBytes(of: &request.offsets) { raw in
            let slots = raw.bindMemory(to: UInt32.self)
            for (index, offset) in offsets.enumerated() { slots[index] = UInt32(offset) }
        }
        request.num_lines = UInt32(offsets.count)
        FixedCString.write(consumer, into: &request.consumer)
        request.config = lineConfig(direction, count: offsets.count)
        do {
            try system.ioctl(descriptor, mvad_request_gpio_v2_get_line(), &request)
        } catch {
            if error == .busy { throw busy(offsets) }
            throw GPIOError.callFailed(chip: path, call: "GPIO_V2_GET_LINE_IOCTL", errno: error)
        }
        return GPIOLineRequest(chip: path, system: system, descriptor: request.fd,
                               offsets: offsets)
    }

    /// The line configuration of a request: direction flags, output values, debounce.
    private func lineConfig(_ direction: GPIOLineDirection, count: Int) -> gpio_v2_line_config {
        var config = gpio_v2_line_config()
        switch direction {
        case .output(let initialValue):
            config.flags = UInt64(GPIO_V2_LINE_FLAG_OUTPUT.rawValue)
            if initialValue {
                config.num_attrs = 1
                config.attrs.0.attr.id = GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES.rawValue
                config.attrs.0.attr.values = count == 64 ? UInt64.max : (UInt64(1) << count) - 1
                config.attrs.0.mask = config.attrs.0.attr.values
            }
        case .inputWithEdges(let debounce):
            config.flags = UInt64(GPIO_V2_LINE_FLAG_INPUT.rawValue)
                | UInt64(GPIO_V2_LINE_FLAG_EDGE_RISING.rawValue)
                | UInt64(GPIO_V2_LINE_FLAG_EDGE_FALLING.rawValue)
            if debounce > 0 {
                config.num_attrs = 1
                config.attrs.0.attr.id = GPIO_V2_LINE_ATTR_ID_DEBOUNCE.rawValue
                config.attrs.0.attr.debounce_period_us = debounce
                config.attrs.0.mask = count == 64 ? UInt64.max : (UInt64(1) << count) - 1
            }
        }
        return config
    }

    /// EBUSY, with the consumer of the first busy line as the kernel reports it.
    private func busy(_ offsets: [Int]) -> GPIOError {
        for offset in offsets {
            if let info = try? lineInfo(offset: offset), info.isUsed {
                let name = info.name.isEmpty ? "\(offset)" : "\(offset) ('\(info.name)')"
                return .lineBusy(chip: path, line: name, consumer: info.consumer)
            }
        }
        return .lineBusy(chip: path, line: offsets.map(String.init).joined(separator: ","),
                         consumer: "")
    }
}
