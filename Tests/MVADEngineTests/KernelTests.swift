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
}
