// SynthError: what can go wrong configuring or writing a synthetic dataset, as sentences that
// say which setting or path, what was found and what was expected.

/// Errors of the synthetic part generator.
public enum SynthError: Error, Equatable, Sendable {
    /// A setting is outside its range; `expected` says the range.
    case invalidSetting(name: String, value: String, expected: String)
    /// A defect kind name that the generator does not know.
    case unknownDefectKind(name: String, known: [String])
    /// Every split was asked for zero parts.
    case noParts
    /// The test split needs defects but the list of kinds is empty.
    case noDefectKinds
    /// The category folder already holds files and overwriting was not allowed.
    case categoryNotEmpty(path: String, entries: [String])
    /// A file or folder could not be written; `reason` is the system's text.
    case writeFailed(path: String, reason: String)
}

extension SynthError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .invalidSetting(let name, let value, let expected):
            return "synth setting \(name) is \(value); expected \(expected)."
        case .unknownDefectKind(let name, let known):
            return "unknown defect kind '\(name)'; known kinds are "
                + known.joined(separator: ", ") + "."
        case .noParts:
            return "no parts to generate: train, val and test counts are all 0; ask for at "
                + "least one part."
        case .noDefectKinds:
            return "the test split needs defective parts but no defect kind is allowed; name "
                + "at least one kind."
        case .categoryNotEmpty(let path, let entries):
            let shown = entries.prefix(5).joined(separator: ", ")
            return "category folder '\(path)' is not empty (it holds \(shown)"
                + (entries.count > 5 ? ", ..." : "") + "); choose another output folder or "
                + "allow overwriting (mvad synth --force)."
        case .writeFailed(let path, let reason):
            return "cannot write '\(path)': \(reason)."
        }
    }
}
