// Tensor: dense Float32 data in row-major (PyTorch) order, with its shape.
//
// Dimension letters used across the engine: N batch, C channels, H height, W width,
// L tokens, D features per token. Images and feature maps are NCHW, token sequences NLD.

/// Dense float data with a shape, laid out row-major exactly as PyTorch lays out a
/// contiguous tensor. A value type: copies are cheap until one of them is written.
public struct Tensor: Sendable, Equatable {
    /// Extent of each dimension, outermost first.
    public private(set) var shape: [Int]
    /// The elements, row-major; `scalars.count` is the product of `shape`.
    public var scalars: [Float]

    /// Wraps existing data; the element count must match the shape.
    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative extent in shape \(shape)")
        precondition(Tensor.elementCount(shape) == scalars.count,
                     "shape \(shape) needs \(Tensor.elementCount(shape)) elements, got \(scalars.count)")
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        self.init(shape: shape, scalars: [Float](repeating: 0, count: Tensor.elementCount(shape)))
    }

    /// A tensor whose every element is `value`.
    public init(shape: [Int], repeating value: Float) {
        self.init(shape: shape, scalars: [Float](repeating: value, count: Tensor.elementCount(shape)))
    }

    /// A tensor filled by `body`, which must write every element of the buffer it is given.
    public init(shape: [Int], filling body: (UnsafeMutableBufferPointer<Float>) -> Void) {
        let count = Tensor.elementCount(shape)
        let scalars = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            body(buffer)
            initialized = count
        }
        self.init(shape: shape, scalars: scalars)
    }

    /// Number of elements.
    public var count: Int { scalars.count }

    /// Number of dimensions.
    public var rank: Int { shape.count }

    /// The same data under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, scalars: scalars)
    }

    /// Product of the extents (1 for a scalar shape `[]`).
    public static func elementCount(_ shape: [Int]) -> Int {
        shape.reduce(1, *)
    }
}

extension Tensor {
    /// Read-only access to the elements as a raw buffer, for kernels.
    @inlinable
    public func withUnsafeBufferPointer<R>(
        _ body: (UnsafeBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        try scalars.withUnsafeBufferPointer(body)
    }

    /// Mutable access to the elements as a raw buffer, for kernels.
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        try scalars.withUnsafeMutableBufferPointer(body)
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        "Tensor(shape: \(shape))"
    }
}

/// Storage for the start pointer of empty buffers, never read or written.
nonisolated(unsafe) private let emptyStorage = UnsafeMutablePointer<Float>.allocate(capacity: 1)

extension UnsafeBufferPointer<Float> {
    /// The first element's address; a valid address for zero elements when the buffer is empty,
    /// so kernels need no special case (and no force-unwrap) for empty tensors.
    var start: UnsafePointer<Float> { baseAddress ?? UnsafePointer(emptyStorage) }
}

extension UnsafeMutableBufferPointer<Float> {
    /// The first element's address; see `UnsafeBufferPointer.start`.
    var start: UnsafeMutablePointer<Float> { baseAddress ?? emptyStorage }
}
