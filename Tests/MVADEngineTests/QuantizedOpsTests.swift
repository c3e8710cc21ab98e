// The int8 linear and convolution paths (Compute+Quantized) against their scalar twin
// ReferenceQuantized (bit for bit), across thread counts (bit for bit), against the fp32
// operators (a named error limit), and the quantisation itself on hand-computed cases.

import MVADKernels
import XCTest
@testable import MVADEngine

final class QuantizedOpsTests: XCTestCase {
    /// Relative L2 error of the int8 paths against fp32 on the random data below. Rounding a
    /// row quantised with step = max|row| / 127 adds noise of RMS step / sqrt(12); these
    /// bell-shaped values reach at most 3 standard deviations, so each operand contributes at
    /// most 3 / (127 sqrt(12)) = 0.68 % of its RMS, below 1 % for both together. Measured on
    /// these cases: 0.29 % (1x1, K = 5) to 0.83 % (linear 320 -> 640). The limit leaves 2.4x
    /// room for other seeds and for heavier-tailed real activations.
    let accuracyLimit = 2e-2

    /// Bell-shaped values (a sum of three uniforms in [-1, 1]) from a fixed-seed generator.
    private func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var state = seed
        func uniform() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 1000
        }
        return Tensor(shape: shape, scalars: (0..<Tensor.elementCount(shape)).map { _ in
            (uniform() + uniform() + uniform()) / 3
        })
    }

    private func assertBitIdentical(_ actual: Tensor, _ expected: Tensor, _ name: String,
                                    file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.shape, expected.shape, "\(name): shape", file: file, line: line)
        let mismatches = zip(actual.scalars, expected.scalars)
            .filter { $0.bitPattern != $1.bitPattern }.count
        XCTAssertEqual(mismatches, 0, "\(name): \(mismatches) values differ",
                       file: file, line: line)
    }

    private func linearLayer(input: Int, output: Int, seed: UInt64) -> Linear {
        Linear(weight: random([output, input], seed: seed), bias: random([output], seed: seed + 1))
    }

    private func convLayer(_ cin: Int, _ cout: Int, kernel: Int, stride: Int, padding: Int,
                           seed: UInt64) -> Conv2d {
        Conv2d(weight: random([cout, cin, kernel, kernel], seed: seed),
               bias: random([cout], seed: seed + 1), stride: stride, padding: padding)
    }

    /// (name, input shape, Cout, kernel, stride, padding): every conv case of these tests.
    private let convCases: [(String, [Int], Int, Int, Int, Int)] = [
        ("3x3 stride 1, small", [2, 5, 9, 11], 7, 3, 1, 1),
        ("3x3 stride 2, small", [2, 5, 9, 11], 33, 3, 2, 1),
        ("1x1, small", [2, 5, 9, 11], 17, 1, 1, 0),
        ("3x3 stride 1, plane 1600", [1, 8, 40, 40], 20, 3, 1, 1),
        ("3x3 stride 2, plane 400", [1, 8, 40, 40], 16, 3, 2, 1),
        ("1x1, plane 1600", [1, 8, 40, 40], 5, 1, 1, 0),
        // Few pixels, 80 outputs: the outputs are split (a partial 64-column block whose last
        // 16-row panel is partial too).
        ("3x3, 72 pixels, 80 outputs", [2, 16, 6, 6], 80, 3, 1, 1),
        // K = 1152: each task unfolds and quantises its pixels in blocks of 56.
        ("3x3, K 1152, 400 pixels", [1, 128, 20, 20], 24, 3, 1, 1),
    ]

    func testLinearMatchesTheScalarTwinBitForBit() {
        var seed: UInt64 = 1
        for rows in [1, 7, 300] {
            for input in [3, 40, 320] {
                for output in [5, 33, 640] {
                    let float = linearLayer(input: input, output: output, seed: seed)
                    let layer = QuantizedLinear(float)
                    let x = random([rows, input], seed: seed + 2)
                    seed += 3
                    assertBitIdentical(Compute(threads: 2).linear(x, layer),
                                       ReferenceQuantized.linear(x, layer),
                                       "linear rows \(rows) in \(input) out \(output)")
                }
            }
        }
    }

    func testConvolutionMatchesTheScalarTwinBitForBit() {
        // On every kernel path this CPU can run (scalar, AVX2, AVX-512), and with the images
        // transposed channels-last all at once or one at a time.
        var oneImageAtATime = Compute(threads: 2)
        oneImageAtATime.channelsLastBudget = 1
        for path in availableKernelPaths() {
            let previous = mvad_force_kernel_path(path)
            defer { _ = mvad_force_kernel_path(previous) }
            for (i, (name, shape, cout, kernel, stride, padding)) in convCases.enumerated() {
                let conv = QuantizedConv2d(convLayer(shape[1], cout, kernel: kernel,
                                                     stride: stride, padding: padding,
                                                     seed: UInt64(10 * i + 1)))
                let x = random(shape, seed: UInt64(10 * i + 3))
                let expected = ReferenceQuantized.conv2d(x, conv)
                assertBitIdentical(Compute(threads: 2).conv2d(x, conv), expected,
                                   "\(name), path \(path)")
                assertBitIdentical(oneImageAtATime.conv2d(x, conv), expected,
                                   "\(name), one image at a time, path \(path)")
            }
        }
    }

    func testAsymmetricPaddingOfTheVAEDownsampler() {
        // diffusers' VAE Downsample2D pads right and bottom by one, then convolves 3x3 stride 2.
        var conv = convLayer(6, 10, kernel: 3, stride: 2, padding: 0, seed: 50)
        conv.padding = (0, 0, 1, 1)
        let int8 = QuantizedConv2d(conv)
        let x = random([2, 6, 8, 10], seed: 51)
        let out = Compute(threads: 2).conv2d(x, int8)
        XCTAssertEqual(out.shape, [2, 10, 4, 5])
        assertBitIdentical(out, ReferenceQuantized.conv2d(x, int8), "pad (0, 0, 1, 1)")
    }

    func testResultsDoNotDependOnTheThreadCount() {
        let layer = QuantizedLinear(linearLayer(input: 320, output: 640, seed: 5))
        let tokens = random([2, 700, 320], seed: 6)  // 1400 rows: 6 tasks
        let linearOne = Compute(threads: 1).linear(tokens, layer)
        let conv = QuantizedConv2d(convLayer(8, 20, kernel: 3, stride: 1, padding: 1, seed: 7))
        let image = random([2, 8, 40, 40], seed: 8)  // 3200 pixels: 13 tasks
        let convOne = Compute(threads: 1).conv2d(image, conv)
        for threads in [2, 4] {
            assertBitIdentical(Compute(threads: threads).linear(tokens, layer), linearOne,
                               "linear, \(threads) threads")
            assertBitIdentical(Compute(threads: threads).conv2d(image, conv), convOne,
                               "conv, \(threads) threads")
        }
    }

    func testFewRowsSplitByOutputsMatchOneThread() {
        // 96 rows and 1280 outputs: 20 column tasks on 2 or 4 threads, one row task on 1.
        let layer = QuantizedLinear(linearLayer(input: 160, output: 1280, seed: 11))
        let tokens = random([6, 16, 160], seed: 12)
        let conv = QuantizedConv2d(convLayer(24, 200, kernel: 3, stride: 1, padding: 1, seed: 13))
        let image = random([6, 24, 4, 4], seed: 14)
        let linearOne = Compute(threads: 1).linear(tokens, layer)
        let convOne = Compute(threads: 1).conv2d(image, conv)
        assertBitIdentical(linearOne, ReferenceQuantized.linear(tokens, layer), "linear, twin")
        assertBitIdentical(convOne, ReferenceQuantized.conv2d(image, conv), "conv, twin")
        for threads in [2, 4] {
            assertBitIdentical(Compute(threads: threads).linear(tokens, layer), linearOne,
                               "linear, \(threads) threads")
            assertBitIdentical(Compute(threads: threads).conv2d(image, conv), convOne,
                               "conv, \(threads) threads")
        }
    }

    func testQuantisationKernelsMatchOnEveryPath() {
        // Values that exercise the rounding (quarters, their neighbours), the clamp, NaN and
        // both zeros, run through every build of the C kernels this CPU can run.
        var values: [Float] = [0, -0, .nan, 1e9, -1e9, .infinity, -.infinity]
        for i in -600...600 {
            let v = Float(i) / 4.5
            values += [v, v.nextUp, v.nextDown]
        }
        let inverse: Float = 1.0
        let expected = values.map { Int8Quantization.quantize($0, inverse: inverse) }
        let finite = values.filter(\.isFinite)
        let expectedMax = finite.map(abs).max() ?? 0
        for path in availableKernelPaths() {
            let previous = mvad_force_kernel_path(path)
            defer { _ = mvad_force_kernel_path(previous) }
            var q = [Int8](repeating: 99, count: values.count)
            mvad_quantize_row(values, values.count, inverse, &q)
            XCTAssertEqual(q, expected, "quantize_row, path \(path)")
            XCTAssertEqual(mvad_absmax(finite, finite.count), expectedMax, "absmax, path \(path)")
        }
    }

    func testAccuracyAgainstFloat32() {
        let compute = Compute(threads: 2)
        for (input, output) in [(40, 33), (320, 640)] {
            let layer = linearLayer(input: input, output: output, seed: 20)
            let x = random([300, input], seed: 21)
            assertMatches(compute.linear(x, QuantizedLinear(layer)), compute.linear(x, layer),
                          "linear in \(input) out \(output)", limit: accuracyLimit)
        }
        for (i, (name, shape, cout, kernel, stride, padding)) in convCases.enumerated() {
            let conv = convLayer(shape[1], cout, kernel: kernel, stride: stride,
                                 padding: padding, seed: UInt64(30 + i))
            let x = random(shape, seed: UInt64(40 + i))
            assertMatches(compute.conv2d(x, QuantizedConv2d(conv)), compute.conv2d(x, conv),
                          name, limit: accuracyLimit)
        }
    }

    func testWeightQuantisationOfAHandComputedMatrix() throws {
        // Row 0: max 1 -> scale 1/127; 0.5 * 127 = 63.5 rounds away from zero to 64,
        // 0.25 * 127 = 31.75 -> 32. Row 1 is all zero: scale 1, q 0. Row 2: max 2 -> scale
        // 2/127; -0.5 * 63.5 = -31.75 -> -32, 2 -> 127, 0.75 * 63.5 = 47.625 -> 48.
        let weight = Tensor(shape: [3, 3], scalars: [0.5, -1.0, 0.25, 0, 0, 0,
                                                     -0.5, 2, 0.75])
        let matrix = QuantizedMatrix(Linear(weight: weight, bias: nil))
        XCTAssertEqual(matrix.values, [64, -127, 32, 0, 0, 0, -32, 127, 48])
        XCTAssertEqual(matrix.scales, [Float(1) / 127, 1, Float(2) / 127])
        XCTAssertEqual(matrix.bias, [0, 0, 0])

        // Activations take the same rounding: -0.5 * 127 = -63.5 -> -64.
        let (q, scale) = ReferenceQuantized.quantize([1, -0.5, 0])
        XCTAssertEqual(q, [127, -64, 0])
        XCTAssertEqual(scale, Float(1) / 127)

        // x [1, -0.5, 0] . w_0 = 0.5 + 0.5 = 1; in int8: 127 * 64 + (-64) * (-127) = 16256,
        // times (1/127)^2 = 1.00787...; row 1 gives exactly the bias.
        let layer = QuantizedLinear(matrix: try QuantizedMatrix(
            values: matrix.values, scales: matrix.scales, rows: 3, columns: 3, bias: [0, 0.25, 0]))
        let y = Compute(threads: 1).linear(Tensor(shape: [1, 3], scalars: [1, -0.5, 0]), layer)
        XCTAssertEqual(y.scalars[0], Float(16256.0 / 16129.0), accuracy: 1e-6)
        XCTAssertEqual(y.scalars[1], 0.25)
    }

    func testRoundingMatchesTheLibraryDefinition() {
        // Every quarter in [-130, 130], the floats either side of each, and the extremes.
        var values: [Float] = [0, -0, 1e-30, -1e-30, .infinity, -.infinity, 1e9, -1e9]
        for i in -520...520 {
            let v = Float(i) / 4
            values += [v, v.nextUp, v.nextDown]
        }
        for v in values {
            let expected = Int8(min(max(v.rounded(.toNearestOrAwayFromZero), -127), 127))
            XCTAssertEqual(Int8Quantization.quantize(v, inverse: 1), expected, "\(v)")
        }
        XCTAssertEqual(Int8Quantization.quantize(.nan, inverse: 1), 0)
    }

    func testRawWeightsAreChecked() {
        XCTAssertThrowsError(try QuantizedMatrix(values: [0, -128], scales: [1], rows: 1,
                                                 columns: 2, bias: nil)) { error in
            XCTAssertEqual(error as? QuantizedWeightsError,
                           .valueOutOfRange(row: 0, column: 1, value: -128))
        }
        XCTAssertThrowsError(try QuantizedMatrix(values: [0, 1], scales: [0], rows: 1,
                                                 columns: 2, bias: nil))
        XCTAssertThrowsError(try QuantizedMatrix(values: [0, 1], scales: [1, 1], rows: 1,
                                                 columns: 2, bias: nil))
    }

    func testPackedWeightsReadBackOnAwkwardShapes() throws {
        // 17 rows span two 16-row panels; 5 columns leave a partial 4-column group.
        let values = (0..<(17 * 5)).map { Int8($0 % 255 - 127) }
        let matrix = try QuantizedMatrix(values: values, scales: [Float](repeating: 1, count: 17),
                                         rows: 17, columns: 5, bias: nil)
        XCTAssertEqual(matrix.values, values)
    }

    func testConvolutionWeightsArePackedTapMajor() throws {
        // 2 output channels of a 3-channel 2x2 kernel: weight order (c, ky, kx) in and out,
        // packed columns (ky, kx, c), where the kernel's first 16-row panel starts after its
        // 64-byte row-sum header.
        let values = (0..<(2 * 12)).map { Int8($0 + 1) }
        let matrix = try QuantizedMatrix(values: values, scales: [1, 1], rows: 2, columns: 12,
                                         bias: nil, taps: 4)
        XCTAssertEqual(matrix.values, values)
        // Packed column j = t * 3 + c holds weight column c * 4 + t: row 0 reads
        // c0t0 c1t0 c2t0 c0t1 ... = 1 5 9 2 6 10 3 7 11 4 8 12.
        let row0: [Int8] = (0..<12).map { (j: Int) -> Int8 in
            let offset: Int = 64 + 64 * (j / 4) + j % 4
            return matrix.packed[offset]
        }
        XCTAssertEqual(row0, [1, 5, 9, 2, 6, 10, 3, 7, 11, 4, 8, 12])
        XCTAssertThrowsError(try QuantizedMatrix(values: values, scales: [1, 1], rows: 2,
                                                 columns: 12, bias: nil, taps: 5))
    }
}
