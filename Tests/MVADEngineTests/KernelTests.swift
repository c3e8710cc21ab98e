// The C SIMD kernels: every path gives the scalar definition's bits, and the scalar
// definition is accurate against libm / a Double reference.

import Foundation
import MVADKernels
import XCTest

final class KernelTests: XCTestCase {
    private func values(_ count: Int, spread: Float, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (Float(state >> 40) / Float(1 << 24) - 0.5) * 2 * spread
        }
    }

    /// Runs `body` on the scalar path and on the detected one; returns both results.
    private func bothPaths(_ body: () -> [Float]) -> (scalar: [Float], detected: [Float]) {
        let detected = mvad_kernel_path()
        _ = mvad_force_kernel_path(MVAD_PATH_SCALAR)
        let scalar = body()
        _ = mvad_force_kernel_path(detected)
        XCTAssertEqual(mvad_kernel_path(), detected)
        return (scalar, body())
    }

    func testExpIsAccurateAndPathIndependent() {
        let x = values(1003, spread: 80, seed: 1) + [0, -0.0, 1, -1, 88, -87, 1e-8]
        let (scalar, detected) = bothPaths {
            var out = [Float](repeating: 0, count: x.count)
            mvad_exp(&out, x, x.count)
            return out
        }
        XCTAssertEqual(scalar.map(\.bitPattern), detected.map(\.bitPattern))
        for (value, e) in zip(x, scalar) {
            let exact = Foundation.exp(Double(value))
            XCTAssertLessThanOrEqual(abs(Double(e) - exact) / exact, 3e-7, "exp(\(value)) = \(e)")
        }
    }

    func testSoftmaxMatchesDoubleReferenceAndIsPathIndependent() {
        for cols in [1, 7, 8, 77, 1024] {
            let rows = 3
            let x = values(rows * cols, spread: 12, seed: UInt64(cols))
            let (scalar, detected) = bothPaths {
                var data = x
                mvad_softmax_rows(&data, rows, cols, 0.35)
                return data
            }
            XCTAssertEqual(scalar.map(\.bitPattern), detected.map(\.bitPattern), "cols \(cols)")
            for r in 0..<rows {
                let row = x[(r * cols)..<((r + 1) * cols)].map { Double($0) * 0.35 }
                let top = row.max() ?? 0
                let sum = row.reduce(0) { $0 + Foundation.exp($1 - top) }
                for (j, v) in row.enumerated() {
                    let expected = Foundation.exp(v - top) / sum
                    XCTAssertEqual(Double(scalar[r * cols + j]), expected, accuracy: 1e-6 + expected * 1e-6)
                }
            }
        }
    }

    func testSiLUIsPathIndependentAndAccurate() {
        let x = values(517, spread: 30, seed: 9)
        let (scalar, detected) = bothPaths {
            var data = x
            mvad_silu(&data, data.count)
            return data
        }
        XCTAssertEqual(scalar.map(\.bitPattern), detected.map(\.bitPattern))
        for (v, y) in zip(x, scalar) {
            let expected = Double(v) / (1 + Foundation.exp(-Double(v)))
            XCTAssertEqual(Double(y), expected, accuracy: 1e-6 * max(1, abs(expected)))
        }
    }

    /// GELU against a Double reference (erf from Foundation) and path-independent, over the
    /// whole range the eight interval polynomials cover, their edges, and the saturated tails.
    func testGELUIsPathIndependentAndAccurate() {
        let edges: [Float] = (0...9).flatMap { i -> [Float] in
            let a = Float(i) * 0.5 / 0.70710678
            return [a, a.nextUp, a.nextDown, -a, -a.nextUp]
        }
        let x = values(2003, spread: 8, seed: 11) + edges + [0, -0.0, 1e-7, -1e-7, 30, -30, 1e30, -1e30]
        let (scalar, detected) = bothPaths {
            var out = [Float](repeating: 0, count: x.count)
            mvad_gelu(&out, x, x.count)
            return out
        }
        XCTAssertEqual(scalar.map(\.bitPattern), detected.map(\.bitPattern))
        var worst = 0.0
        for (v, y) in zip(x, scalar) {
            let exact = 0.5 * Double(v) * (1 + Foundation.erf(Double(v) / 2.0.squareRoot()))
            // 1 + erf rounds to float near 2 (ulp 1.2e-7) and near 0 for large negative inputs
            let error = abs(Double(y) - exact) / max(1, abs(Double(v)))
            worst = max(worst, error)
            XCTAssertLessThanOrEqual(error, 1.5e-7, "gelu(\(v)) = \(y), expected \(exact)")
        }
        XCTAssertGreaterThan(worst, 0, "the comparison must see float rounding")
        var nan = [Float.nan]
        mvad_gelu(&nan, nan, 1)
        XCTAssertTrue(nan[0].isNaN)
    }

    func testGEGLUIsValueTimesGELUOfGate() {
        let value = values(301, spread: 3, seed: 12)
        let gate = values(301, spread: 6, seed: 13)
        let (scalar, detected) = bothPaths {
            var out = [Float](repeating: 0, count: value.count)
            mvad_geglu(&out, value, gate, value.count)
            return out
        }
        XCTAssertEqual(scalar.map(\.bitPattern), detected.map(\.bitPattern))
        var gelu = [Float](repeating: 0, count: gate.count)
        mvad_gelu(&gelu, gate, gate.count)
        for i in 0..<value.count {
            XCTAssertEqual(scalar[i].bitPattern, (value[i] * gelu[i]).bitPattern, "element \(i)")
        }
    }

    func testChannelsLastIsAPlainTransposeWithMaximaOnEveryPath() {
        // Channel counts and planes that are and are not multiples of the 8 x 8 blocks, with
        // NaN (ignored by the maxima), -0 and large values.
        for (channels, plane) in [(16, 64), (13, 77), (320, 24), (3, 9), (1, 1)] {
            var x = values(channels * plane, spread: 4, seed: UInt64(channels * 1000 + plane))
            for i in stride(from: 5, to: x.count, by: 29) { x[i] = .nan }
            for i in stride(from: 7, to: x.count, by: 31) { x[i] = -0.0 }
            for i in stride(from: 11, to: x.count, by: 37) { x[i] = -3000 }
            var expected = [Float](repeating: 0, count: x.count)
            var expectedMax = [Float](repeating: 0, count: plane)
            for c in 0..<channels {
                for i in 0..<plane {
                    let v = x[c * plane + i]
                    expected[i * channels + c] = v
                    if !v.isNaN { expectedMax[i] = max(expectedMax[i], abs(v)) }
                }
            }
            for path in availableKernelPaths() {
                let previous = mvad_force_kernel_path(path)
                defer { _ = mvad_force_kernel_path(previous) }
                var out = [Float](repeating: 7, count: x.count)
                var maxima = [Float](repeating: 7, count: plane)
                mvad_channels_last(x, channels, plane, &out, &maxima)
                XCTAssertEqual(out.map(\.bitPattern), expected.map(\.bitPattern),
                               "\(channels) x \(plane), path \(path)")
                XCTAssertEqual(maxima.map(\.bitPattern), expectedMax.map(\.bitPattern),
                               "maxima \(channels) x \(plane), path \(path)")
            }
        }
    }

    func testTransposeMovesEveryValueOnEveryPath() {
        // Whole 8 x 8 blocks, ragged edges on either side, and source and destination strides
        // wider than the block.
        for (rows, cols) in [(8, 8), (32, 320), (13, 77), (77, 13), (1, 9), (9, 1)] {
            let (lds, ldd) = (cols + 3, rows + 5)
            let src = values(rows * lds, spread: 10, seed: UInt64(rows * 100 + cols))
            var expected = [Float](repeating: -1, count: cols * ldd)
            for i in 0..<rows {
                for j in 0..<cols { expected[j * ldd + i] = src[i * lds + j] }
            }
            for path in availableKernelPaths() {
                let previous = mvad_force_kernel_path(path)
                defer { _ = mvad_force_kernel_path(previous) }
                var dst = [Float](repeating: -1, count: cols * ldd)
                mvad_transpose(src, lds, rows, cols, &dst, ldd)
                XCTAssertEqual(dst.map(\.bitPattern), expected.map(\.bitPattern),
                               "\(rows) x \(cols), path \(path)")
            }
        }
    }

    func testEveryPathTheCPUCanRunCanBeForced() {
        let detected = mvad_kernel_path()
        XCTAssertEqual(mvad_kernel_path_available(detected), 1)
        XCTAssertEqual(mvad_kernel_path_available(MVAD_PATH_SCALAR), 1)
        if detected == MVAD_PATH_AVX512 {
            XCTAssertEqual(mvad_kernel_path_available(MVAD_PATH_AVX2), 1)
        }
        for path in availableKernelPaths() {
            let previous = mvad_force_kernel_path(path)
            XCTAssertEqual(mvad_kernel_path(), path)
            _ = mvad_force_kernel_path(previous)
        }
        XCTAssertEqual(mvad_kernel_path(), detected)
    }
}

/// The kernel paths this CPU can run: scalar always, then AVX2, AVX-512 or NEON where present.
func availableKernelPaths() -> [mvad_path] {
    [MVAD_PATH_SCALAR, MVAD_PATH_AVX2, MVAD_PATH_NEON, MVAD_PATH_AVX512]
        .filter { mvad_kernel_path_available($0) == 1 }
}
