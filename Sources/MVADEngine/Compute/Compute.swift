// Compute: the CPU executor every operator runs on, and its deterministic work splitting.
//
// Work is always cut into tasks whose size depends only on the problem, never on the number
// of threads; threads then pick tasks. Each output element is therefore computed by the same
// instructions in the same order whatever the thread count, and results are bit-identical
// for 1, 2 or 4 threads.

import CBLAS
import Dispatch

/// Runs the engine's operators on the CPU with a fixed number of threads.
public struct Compute: Sendable {
    /// Worker threads used by the operators (at least 1).
    public let threads: Int
    /// Floats of channels-last input an int8 convolution keeps at a time (64 MiB); it
    /// transposes a group of images that fits, then convolves it. Tests lower it to check
    /// the grouping; the results never depend on it.
    var channelsLastBudget = 1 << 24

    /// An executor using `threads` workers (default: every online core).
    public init(threads: Int? = nil) {
        let online = Compute.onlineCores
        self.threads = max(1, threads ?? online)
        // BLAS runs single-threaded inside our tasks; its own threading would split work by
        // thread count and could change reduction order.
        Compute.pinBLASToOneThread()
    }

    /// The OpenBLAS kernel family in use (e.g. "Haswell", "SkylakeX"), chosen by OpenBLAS
    /// from the CPU or from the OPENBLAS_CORETYPE environment variable.
    public static var blasCoreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// Number of cores the process may run on.
    public static var onlineCores: Int {
        max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    }

    private static let blasPinned: Bool = {
        openblas_set_num_threads(1)
        return true
    }()

    private static func pinBLASToOneThread() {
        _ = blasPinned
    }

    /// Calls `body(task)` for every task in `0..<count`, spread over the workers. Tasks must
    /// write disjoint outputs; the split never depends on `threads`.
    public func forEachTask(_ count: Int, _ body: (Int) -> Void) {
        forEachTask(count) { task, _ in body(task) }
    }

    /// As `forEachTask(_:_:)`, also passing the index (0..<workers(for: count)) of the worker
    /// running the task, so that tasks can use per-worker scratch memory.
    func forEachTask(_ count: Int, _ body: (_ task: Int, _ worker: Int) -> Void) {
        if count <= 0 { return }
        let workers = self.workers(for: count)
        if workers == 1 {
            for task in 0..<count { body(task, 0) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let box = UncheckedBox(body)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                var task = worker
                while task < count {
                    box.value(task, worker)
                    task += workers
                }
            }
        }
    }

    /// Workers used for `count` tasks.
    func workers(for count: Int) -> Int { max(1, min(threads, count)) }

    /// Splits `0..<total` into fixed-size ranges and calls `body` for each, in parallel.
    public func forEachRange(_ total: Int, chunk: Int, _ body: (Range<Int>) -> Void) {
        precondition(chunk > 0, "chunk must be positive")
        let tasks = (total + chunk - 1) / chunk
        forEachTask(tasks) { task in
            let start = task * chunk
            body(start..<min(total, start + chunk))
        }
    }
}

/// Carries a non-Sendable closure or pointer into worker threads. Safe here because every
/// task writes a disjoint part of the output and the caller waits for all of them.
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// Uninitialised float scratch memory, one slice per worker, freed when the value goes away.
struct Scratch: ~Copyable {
    private let base: UnsafeMutablePointer<Float>
    let perWorker: Int

    init(workers: Int, perWorker: Int) {
        self.perWorker = max(1, perWorker)
        base = .allocate(capacity: max(1, workers) * self.perWorker)
    }

    /// The slice of `worker`.
    func slice(_ worker: Int) -> UnsafeMutablePointer<Float> { base + worker * perWorker }

    deinit { base.deallocate() }
}

#if canImport(Glibc)
import Glibc
#endif
