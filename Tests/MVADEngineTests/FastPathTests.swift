// The optimised convolution and linear paths against their plain scalar twins
// (ReferenceKernels), on shapes that reach every path: large images split by columns,
// small images split by channels, 1x1 without unfolding, many rows and few rows.

import XCTest
@testable import MVADEngine

final class FastPathTests: XCTestCase {
    /// Float32 BLAS sums against Double sums: a few ulps of the result's scale.
    let limit = 1e-6

    private func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var state = seed
        return Tensor(shape: shape, scalars: (0..<Tensor.elementCount(shape)).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 1000
        })
    }

    func testConvolutionPathsMatchTheScalarTwin() {
        let cases: [(String, [Int], Int, Int, Int, Int)] = [
            // name, input shape, Cout, kernel, stride, padding
            ("columns, 3x3, partial chunk", [2, 3, 40, 40], 5, 3, 1, 1),
            ("columns, 1x1 pointwise", [2, 6, 33, 32], 4, 1, 1, 0),
            ("columns, stride 2", [1, 2, 66, 64], 3, 3, 2, 1),
            ("channels, 3x3", [3, 8, 9, 7], 37, 3, 1, 1),
            ("channels, 1x1", [2, 5, 4, 4], 70, 1, 1, 0),
        ]
        for (i, (name, shape, cout, kernel, stride, padding)) in cases.enumerated() {
            let x = random(shape, seed: UInt64(i + 1))
            let conv = Conv2d(weight: random([cout, shape[1], kernel, kernel], seed: UInt64(i + 50)),
                              bias: random([cout], seed: UInt64(i + 90)), stride: stride,
                              padding: padding)
            let expected = ReferenceKernels.conv2d(x, conv)
            for threads in [1, 3] {
                assertMatches(Compute(threads: threads).conv2d(x, conv), expected,
                              "\(name), \(threads) threads", limit: limit)
            }
        }
        // The VAE's asymmetric padding (0, 1, 0, 1) before a stride-2 conv.
        var asymmetric = Conv2d(weight: random([2, 3, 3, 3], seed: 7), bias: nil, stride: 2)
        asymmetric.padding = (top: 0, left: 0, bottom: 1, right: 1)
        let x = random([1, 3, 64, 64], seed: 8)
        assertMatches(Compute(threads: 2).conv2d(x, asymmetric), ReferenceKernels.conv2d(x, asymmetric),
                      "asymmetric padding", limit: limit)
    }

    func testLinearPathsMatchTheScalarTwin() {
        for (name, rows, input, output) in [("by rows", 1500, 24, 40), ("by features", 77, 32, 150)] {
            let x = random([1, rows, input], seed: 3)
            let layer = Linear(weight: random([output, input], seed: 4), bias: random([output], seed: 5))
            assertMatches(Compute(threads: 2).linear(x, layer), ReferenceKernels.linear(x, layer),
                          name, limit: limit)
        }
    }
}
