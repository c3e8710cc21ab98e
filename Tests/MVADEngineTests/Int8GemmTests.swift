// The int8 matrix product C = A * B^T (mvad_gemm_s8): every path this CPU offers gives the
// same int32 results, bit for bit, as the scalar path and as a plain Swift triple loop.

import MVADKernels
import XCTest

final class Int8GemmTests: XCTestCase {
    private static let allPaths: [mvad_s8_path] = [
        MVAD_S8_PATH_SCALAR, MVAD_S8_PATH_AVX2, MVAD_S8_PATH_AVX512VNNI, MVAD_S8_PATH_NEON,
        MVAD_S8_PATH_NEON_SDOT,
    ]

    private var availablePaths: [mvad_s8_path] {
        Self.allPaths.filter { mvad_gemm_s8_path_available($0) != 0 }
    }

    /// Uniform int8 values in [-127, 127] from a fixed-seed generator.
    private func values(_ count: Int, seed: UInt64) -> [Int8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int8(Int((state >> 33) % 255) - 127)
        }
    }

    private func pack(_ w: [Int8], n: Int, k: Int) -> [Int8] {
        var packed = [Int8](repeating: 0, count: mvad_pack_s8_weights_size(n, k))
        mvad_pack_s8_weights(w, n, k, &packed)
        return packed
    }

    /// C [m, n] = A [m, k] * W [n, k]^T in Int64, checked to fit Int32.
    private func reference(_ a: [Int8], lda: Int, _ w: [Int8], m: Int, n: Int, k: Int) -> [Int32] {
        var c = [Int32](repeating: 0, count: m * n)
        a.withUnsafeBufferPointer { a in
            w.withUnsafeBufferPointer { w in
                for i in 0..<m {
                    for j in 0..<n {
                        var sum: Int64 = 0
                        for q in 0..<k { sum += Int64(a[i * lda + q]) * Int64(w[j * k + q]) }
                        c[i * n + j] = Int32(sum)
                    }
                }
            }
        }
        return c
    }

    /// Runs the product on `path`; C has row stride n + 2 and its padding must stay untouched.
    private func product(on path: mvad_s8_path, _ a: [Int8], lda: Int, _ packed: [Int8],
                         m: Int, n: Int, k: Int) -> [Int32] {
        let previous = mvad_force_gemm_s8_path(path)
        defer { _ = mvad_force_gemm_s8_path(previous) }
        XCTAssertEqual(mvad_gemm_s8_path(), path, "could not force \(name(path))")

        let ldc = n + 2, sentinel: Int32 = 0x5A5A_5A5A
        var c = [Int32](repeating: sentinel, count: m * ldc)
        mvad_gemm_s8(m, n, k, a, lda, packed, &c, ldc)
        for i in 0..<m where c[i * ldc + n] != sentinel || c[i * ldc + n + 1] != sentinel {
            XCTFail("\(name(path)) wrote past column \(n) of row \(i)")
        }
        return (0..<m).flatMap { i in c[(i * ldc)..<(i * ldc + n)] }
    }

    private func name(_ path: mvad_s8_path) -> String { String(cString: mvad_s8_path_name(path)) }

    func testEveryPathMatchesTheReferenceOnAwkwardSizes() {
        XCTAssertTrue(availablePaths.contains(mvad_gemm_s8_path()))
        var seed: UInt64 = 1
        for m in [1, 3, 17, 64] {
            for n in [1, 5, 16, 33, 320] {
                for k in [1, 3, 4, 31, 64, 1280] {
                    let lda = k + 1  // a stride wider than the row
                    let a = values(m * lda, seed: seed), w = values(n * k, seed: seed + 1)
                    seed += 2
                    let packed = pack(w, n: n, k: k)
                    let expected = reference(a, lda: lda, w, m: m, n: n, k: k)
                    let scalar = product(
                        on: MVAD_S8_PATH_SCALAR, a, lda: lda, packed, m: m, n: n, k: k)
                    XCTAssertEqual(scalar, expected, "scalar, m \(m) n \(n) k \(k)")
                    for path in availablePaths where path != MVAD_S8_PATH_SCALAR {
                        let got = product(on: path, a, lda: lda, packed, m: m, n: n, k: k)
                        XCTAssertEqual(got, scalar, "\(name(path)), m \(m) n \(n) k \(k)")
                    }
                }
            }
        }
    }

    func testExtremeValuesAtTheMaximumDepthAreExact() {
        let m = 3, n = 17, k = 65536
        for (x, y) in [(Int8(127), Int8(127)), (-127, -127), (127, -127)] {
            let a = [Int8](repeating: x, count: m * k), w = [Int8](repeating: y, count: n * k)
            let packed = pack(w, n: n, k: k)
            let exact = Int32(k) * Int32(x) * Int32(y)  // +-1_057_030_144
            for path in availablePaths {
                let got = product(on: path, a, lda: k, packed, m: m, n: n, k: k)
                let want = [Int32](repeating: exact, count: m * n)
                XCTAssertEqual(got, want, "\(name(path)) \(x) * \(y)")
            }
        }
    }

    func testRandomValuesAtTheMaximumDepthMatch() {
        let m = 5, n = 20, k = 65536
        let a = values(m * k, seed: 77), w = values(n * k, seed: 78)
        let packed = pack(w, n: n, k: k)
        let expected = reference(a, lda: k, w, m: m, n: n, k: k)
        for path in availablePaths {
            let got = product(on: path, a, lda: k, packed, m: m, n: n, k: k)
            XCTAssertEqual(got, expected, name(path))
        }
    }

    /// Weights too large for one cache block: the product is cut along both n and k.
    func testWeightsCutIntoCacheBlocksMatch() {
        let m = 9, n = 1000, k = 1100
        let a = values(m * k, seed: 91), w = values(n * k, seed: 92)
        let packed = pack(w, n: n, k: k)
        let expected = reference(a, lda: k, w, m: m, n: n, k: k)
        for path in availablePaths {
            let got = product(on: path, a, lda: k, packed, m: m, n: n, k: k)
            XCTAssertEqual(got, expected, name(path))
        }
    }

    /// The packed layout is a file format: check the header's description byte by byte.
    func testPackedLayoutIsTheDocumentedOne() {
        let n = 17, k = 5  // 2 panels of 16 rows, 2 groups of 4 k-values
        let w = (0..<(n * k)).map { Int8(truncatingIfNeeded: $0 % 120 - 60) }
        let packed = pack(w, n: n, k: k)
        let panelBytes = 64 * (2 + 1)
        XCTAssertEqual(packed.count, 2 * panelBytes)

        for row in 0..<32 {
            let panel = (row / 16) * panelBytes, r = row % 16
            let sumBytes = packed[(panel + 4 * r)..<(panel + 4 * r + 4)]
            let sum = sumBytes.enumerated().reduce(UInt32(0)) { sum, byte in
                sum | UInt32(UInt8(bitPattern: byte.element)) << (8 * byte.offset)  // little-endian
            }
            let rowSum = row < n ? (0..<k).reduce(Int32(0)) { $0 + Int32(w[row * k + $1]) } : 0
            XCTAssertEqual(Int32(bitPattern: sum), rowSum, "row sum \(row)")
            for q in 0..<8 {
                let byte = packed[panel + 64 * (q / 4 + 1) + 4 * r + q % 4]
                XCTAssertEqual(byte, row < n && q < k ? w[row * k + q] : 0, "row \(row) k \(q)")
            }
        }
    }

    func testPathForcingAndNames() {
        let detected = mvad_gemm_s8_path()
        XCTAssertEqual(mvad_gemm_s8_path_available(MVAD_S8_PATH_SCALAR), 1)
        XCTAssertEqual(mvad_force_gemm_s8_path(MVAD_S8_PATH_SCALAR), detected)
        XCTAssertEqual(mvad_gemm_s8_path(), MVAD_S8_PATH_SCALAR)
        for path in Self.allPaths where mvad_gemm_s8_path_available(path) == 0 {
            _ = mvad_force_gemm_s8_path(path)
            XCTAssertEqual(mvad_gemm_s8_path(), MVAD_S8_PATH_SCALAR, "\(name(path)) was forced")
        }
        _ = mvad_force_gemm_s8_path(detected)
        XCTAssertEqual(mvad_gemm_s8_path(), detected)
        let names = ["scalar", "avx2", "avx512vnni", "neon", "neon_sdot"]
        XCTAssertEqual(Self.allPaths.map(name), names)
    }
}
