// Conv2d and Linear holding int8 weights (issue 4): Compute and ReferenceKernels dispatch them
// to the int8 operators bit for bit, and ModuleLoader builds them from a source storing int8,
// still checking shapes against the config.

import XCTest
@testable import MVADEngine

final class QuantizedLayerTests: XCTestCase {
    /// Values in [-1, 1) from a fixed-seed generator.
    private func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var state = seed
        return Tensor(shape: shape) { values in
            for i in values.indices {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                values[i] = Float(state >> 40) / Float(1 << 23) - 1
            }
        }
    }

    private func assertSameBits(_ actual: Tensor, _ expected: Tensor, _ name: String,
                                file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.shape, expected.shape, name, file: file, line: line)
        XCTAssertTrue(zip(actual.scalars, expected.scalars).allSatisfy {
            $0.bitPattern == $1.bitPattern
        }, "\(name): values differ", file: file, line: line)
    }

    func testConvHoldingInt8WeightsRunsTheInt8Operator() {
        let float = Conv2d(weight: random([24, 5, 3, 3], seed: 1), bias: random([24], seed: 2),
                           stride: 2, padding: 1)
        let matrix = QuantizedMatrix(float)
        let conv = Conv2d(quantized: matrix, inChannels: 5, kernelHeight: 3, kernelWidth: 3,
                          stride: 2, padding: 1)
        XCTAssertEqual(conv.weightShape, [24, 5, 3, 3])
        XCTAssertEqual(conv.weight.count, 0)
        XCTAssertEqual(conv.bias?.scalars, matrix.bias)

        let x = random([2, 5, 9, 11], seed: 3)
        let expected = Compute(threads: 1).conv2d(x, QuantizedConv2d(float))
        for threads in [1, 3] {
            assertSameBits(Compute(threads: threads).conv2d(x, conv), expected,
                           "\(threads) threads")
        }
        assertSameBits(ReferenceKernels.conv2d(x, conv), expected, "scalar twin")
        XCTAssertEqual(QuantizedMatrix(conv).values, matrix.values)
    }

    func testLinearHoldingInt8WeightsRunsTheInt8Operator() {
        let float = Linear(weight: random([40, 33], seed: 4), bias: random([40], seed: 5))
        let layer = Linear(quantized: QuantizedMatrix(float))
        XCTAssertEqual([layer.outFeatures, layer.inFeatures], [40, 33])
        XCTAssertEqual(layer.weight.count, 0)

        let x = random([3, 7, 33], seed: 6)
        let expected = Compute(threads: 1).linear(x, QuantizedLinear(float))
        for threads in [1, 3] {
            assertSameBits(Compute(threads: threads).linear(x, layer), expected,
                           "\(threads) threads")
        }
        assertSameBits(ReferenceKernels.linear(x, layer), expected, "scalar twin")
    }

    /// Stores every tensor of `floats`; those of rank 2 or 4 are also offered as int8 rows.
    struct Int8Source: WeightSource {
        var floats: [String: Tensor]
        var int8: [String: (values: [Int8], scales: [Float])] = [:]

        init(_ floats: [String: Tensor]) {
            self.floats = floats
            for (name, tensor) in floats where tensor.rank == 2 || tensor.rank == 4 {
                let rows = tensor.shape[0]
                let matrix = QuantizedMatrix(weights: tensor.scalars, rows: rows,
                                             columns: tensor.count / rows, bias: nil)
                int8[name] = (matrix.values, matrix.scales)
            }
        }

        var names: [String] { floats.keys.sorted() }
        func tensor(_ name: String) throws -> Tensor {
            guard let tensor = floats[name] else {
                throw ModelLoadError.missingTensor(component: "test", name: name)
            }
            return tensor
        }
        func shape(_ name: String) -> [Int]? { floats[name]?.shape }
        func quantized(_ name: String) throws -> (values: [Int8], scales: [Float])? { int8[name] }
    }

    func testLoaderBuildsInt8LayersAndStillChecksShapes() throws {
        let source = Int8Source([
            "conv.weight": random([8, 4, 3, 3], seed: 7), "conv.bias": random([8], seed: 8),
            "proj.weight": random([6, 8, 1, 1], seed: 9), "proj.bias": random([6], seed: 10),
            "fc.weight": random([5, 6], seed: 11),
        ])
        let m = ModuleLoader(source: source, component: "test")
        let conv = try m.conv("conv", out: 8, in: 4, kernel: 3)
        let proj = try m.pointwise("proj", out: 6, in: 8)
        let fc = try m.linear("fc", out: 5, in: 6, bias: false)
        XCTAssertEqual(conv.quantized?.values, source.int8["conv.weight"]?.values)
        XCTAssertEqual(conv.weightShape, [8, 4, 3, 3])
        XCTAssertEqual(conv.padding.top, 1)
        XCTAssertEqual(proj.quantized?.bias, source.floats["proj.bias"]?.scalars)
        XCTAssertEqual([proj.outFeatures, proj.inFeatures], [6, 8])
        XCTAssertEqual(fc.quantized?.bias, [Float](repeating: 0, count: 5))

        XCTAssertThrowsError(try m.conv("conv", out: 8, in: 4, kernel: 1)) { error in
            XCTAssertEqual(error as? ModelLoadError, .shapeMismatch(
                component: "test", name: "conv.weight", found: [8, 4, 3, 3],
                expected: [8, 4, 1, 1]))
        }

        var hostile = source
        hostile.int8["fc.weight"]?.values[3] = -128
        XCTAssertThrowsError(try ModuleLoader(source: hostile, component: "test")
            .linear("fc", out: 5, in: 6, bias: false)) { error in
            guard case let .invalidQuantized(_, name, _)? = error as? ModelLoadError else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(name, "fc.weight")
        }
    }
}
