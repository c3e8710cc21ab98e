// ScoringError: what can be wrong with memory banks, bank files, scoring inputs and metric
// inputs, each case saying where, what was found and what was expected.

import MVADEngine

/// One setting whose value in a memory bank differs from the value the caller expects.
/// `nil` means the setting is absent on that side.
public struct SettingDifference: Sendable, Equatable, CustomStringConvertible {
    public let name: String
    public let bankValue: String?
    public let expectedValue: String?

    public init(name: String, bankValue: String?, expectedValue: String?) {
        self.name = name
        self.bankValue = bankValue
        self.expectedValue = expectedValue
    }

    public var description: String {
        "'\(name)' is \(Self.quoted(bankValue)) in the bank, expected \(Self.quoted(expectedValue))"
    }

    private static func quoted(_ value: String?) -> String {
        value.map { "'\($0)'" } ?? "(absent)"
    }
}

/// A bad bank, bank file, scoring input or metric input.
public enum ScoringError: Error, Equatable, CustomStringConvertible {
    /// The bank of `modality` was built with other settings than the ones in use.
    case settingsMismatch(modality: String, differences: [SettingDifference])
    /// `what` has shape `found`; `expected` says which shape was wanted.
    case invalidShape(what: String, found: [Int], expected: String)
    /// `what` holds a NaN or an infinity at flat index `index`.
    case nonFiniteValue(what: String, index: Int, value: Float)
    /// A parameter is out of range.
    case invalidParameter(name: String, found: String, expected: String)
    /// A bank of `modality` is needed but absent (from the bank file at `path`, when known).
    case missingBank(modality: String, path: String?)
    /// A bank holds no vectors, so no nearest neighbour exists.
    case emptyBank(modality: String)
    /// The bank file at `path` is malformed: `problem` says how.
    case malformedBankFile(path: String, problem: String)
    /// `metric` cannot be computed from these inputs; `reason` says why.
    case undefinedMetric(metric: String, reason: String)

    public var description: String {
        switch self {
        case let .settingsMismatch(modality, differences):
            let list = differences.map(\.description).joined(separator: "; ")
            return "The \(modality) memory bank was built with other settings: \(list). "
                + "Rebuild the bank with the current settings or use matching settings."
        case let .invalidShape(what, found, expected):
            return "\(what) has shape \(found); expected \(expected)."
        case let .nonFiniteValue(what, index, value):
            return "\(what) holds \(value) at flat index \(index); expected finite values."
        case let .invalidParameter(name, found, expected):
            return "\(name) must be \(expected), got \(found)."
        case let .missingBank(modality, path):
            let place = path.map { "the bank file \($0) holds" } ?? "there is"
            return "\(place) no \(modality) memory bank; expected one for the \(modality) "
                + "features given."
        case let .emptyBank(modality):
            return "The \(modality) memory bank holds no vectors; expected at least one."
        case let .malformedBankFile(path, problem):
            return "\(path): not a valid memory-bank file: \(problem)."
        case let .undefinedMetric(metric, reason):
            return "\(metric) is undefined for these inputs: \(reason)."
        }
    }
}

extension ScoringError {
    /// Throws `nonFiniteValue` for the first NaN or infinity in `tensor`, called `what`.
    static func requireFinite(_ tensor: Tensor, _ what: String) throws {
        if let index = tensor.scalars.firstIndex(where: { !$0.isFinite }) {
            let value = tensor.scalars[index]
            throw ScoringError.nonFiniteValue(what: what, index: index, value: value)
        }
    }
}
