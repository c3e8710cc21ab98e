// Cancellation of a long computation: a question the inspection asks at its natural boundaries
// (before each VAE encode, each UNet + ControlNet batch, the scoring), and a flag to answer it.

import Synchronization

/// Asked between the steps of an inspection: true stops it with `InspectionError.cancelled`.
/// Called on the inspecting thread; must be cheap and safe to call from any thread.
public protocol CancellationCheck: Sendable {
    var isCancelled: Bool { get }
}

/// A cancellation flag that any thread (a signal handler's queue, say) may set; once set it
/// stays set.
public final class CancellationFlag: CancellationCheck {
    private let flag = Atomic<Bool>(false)

    public init() {}

    public func cancel() { flag.store(true, ordering: .sequentiallyConsistent) }

    public var isCancelled: Bool { flag.load(ordering: .sequentiallyConsistent) }
}

/// Throws `InspectionError.cancelled` when `cancellation` says so; `stage` names what would
/// have run next.
func checkCancellation(_ cancellation: (any CancellationCheck)?,
                       before stage: @autoclosure () -> String) throws {
    guard let cancellation, cancellation.isCancelled else { return }
    throw InspectionError.cancelled(before: stage())
}
