// GPIOError: what can go wrong with a GPIO chip and its line requests, saying which chip, which
// line, what was found and what was expected.

/// Errors of the GPIO character-device layer.
public enum GPIOError: Error, Equatable, Sendable {
    case openFailed(chip: String, errno: Errno)
    case callFailed(chip: String, call: String, errno: Errno)
    /// No line has this name (`available` lists the named lines).
    case noSuchLine(chip: String, name: String, available: [String])
    /// The offset is beyond the chip's lines.
    case offsetOutOfRange(chip: String, offset: Int, lines: Int)
    /// The line is already requested (EBUSY), by `consumer` if the kernel says.
    case lineBusy(chip: String, line: String, consumer: String)
    /// A read of line events returned a partial event.
    case shortEventRead(chip: String, bytes: Int, expected: Int)
}

extension GPIOError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .openFailed(let chip, let errno):
            return "Cannot open GPIO chip '\(chip)': \(errno). Check the node exists and is "
                + "readable and writable (gpio group)."
        case .callFailed(let chip, let call, let errno):
            return "GPIO chip '\(chip)': \(call) failed with \(errno)."
        case .noSuchLine(let chip, let name, let available):
            let names = available.isEmpty ? "no named lines" : available.joined(separator: ", ")
            return "GPIO chip '\(chip)' has no line named '\(name)'; its lines are: \(names)."
        case .offsetOutOfRange(let chip, let offset, let lines):
            return "GPIO chip '\(chip)' has \(lines) lines (0...\(lines - 1)); line \(offset) "
                + "does not exist."
        case .lineBusy(let chip, let line, let consumer):
            let who = consumer.isEmpty ? "another process" : "'\(consumer)'"
            return "GPIO line \(line) of '\(chip)' is in use by \(who) (EBUSY); release it "
                + "there first."
        case .shortEventRead(let chip, let bytes, let expected):
            return "GPIO chip '\(chip)': an edge-event read returned \(bytes) bytes, expected a "
                + "multiple of \(expected)."
        }
    }
}
