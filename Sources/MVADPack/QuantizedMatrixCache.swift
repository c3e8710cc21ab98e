// QuantizedMatrixCache: int8 matrices packed from a pack's tensors, kept by tensor name so that
// two models loading the same stored weights (the UNet, and a ControlLoRA stored separate over
// its encoder) hold one packed copy between them.

import Foundation
import MVADEngine

final class QuantizedMatrixCache: @unchecked Sendable {
    private var matrices: [String: QuantizedMatrix] = [:]
    private let lock = NSLock()

    /// The matrix cached under `name` when it was built with the same bias, else `build()`'s
    /// (cached when it is the first for `name`).
    func matrix(_ name: String, bias: [Float]?,
                build: () throws -> QuantizedMatrix?) throws -> QuantizedMatrix? {
        lock.lock()
        let cached = matrices[name]
        lock.unlock()
        if let cached, cached.bias == (bias ?? [Float](repeating: 0, count: cached.rows)) {
            return cached
        }
        guard let built = try build() else { return nil }
        lock.lock()
        if matrices[name] == nil { matrices[name] = built }
        lock.unlock()
        return built
    }
}
