// Each operator against values worked out by hand, then against torch on random inputs
// (Fixtures/tiny/cases/ops.safetensors, written by tools/reference/make_fixtures.py).

import XCTest
@testable import MVADEngine

final class OperatorTests: XCTestCase {
    let c = Compute(threads: 2)

    // MARK: hand-computed values

    func testConvolutionByHand() {
        // 1 channel 3x3 image 1...9, 2x2 kernel of ones, no padding: sums of 2x2 windows.
        let x = Tensor(shape: [1, 1, 3, 3], scalars: (1...9).map(Float.init))
        let conv = Conv2d(weight: Tensor(shape: [1, 1, 2, 2], repeating: 1),
                          bias: Tensor(shape: [1], scalars: [0.5]))
        let y = c.conv2d(x, conv)
        XCTAssertEqual(y.shape, [1, 1, 2, 2])
        XCTAssertEqual(y.scalars, [12.5, 16.5, 24.5, 28.5])
        // Padding 1, stride 2, centre tap only: picks x[0,0], x[0,2], x[2,0], x[2,2].
        var centre = [Float](repeating: 0, count: 9)
        centre[4] = 1
        let strided = Conv2d(weight: Tensor(shape: [1, 1, 3, 3], scalars: centre), bias: nil,
                             stride: 2, padding: 1)
        XCTAssertEqual(c.conv2d(x, strided).scalars, [1, 3, 7, 9])
    }

    func testGroupNormByHand() {
        // One group of [1, 2, 3, 4]: mean 2.5, variance 1.25.
        let norm = GroupNorm(groups: 1, eps: 0, weight: Tensor(shape: [1], scalars: [2]),
                             bias: Tensor(shape: [1], scalars: [1]))
        let y = c.groupNorm(Tensor(shape: [1, 1, 2, 2], scalars: [1, 2, 3, 4]), norm)
        let s = 1 / Float(1.25).squareRoot()
        for (a, b) in zip(y.scalars, [-1.5 * s, -0.5 * s, 0.5 * s, 1.5 * s].map { 2 * $0 + 1 }) {
            XCTAssertEqual(a, b, accuracy: 1e-6)
        }
    }

    func testActivationsByHand() {
        let x = Tensor(shape: [3], scalars: [0, 1, -2])
        let silu = c.silu(x).scalars
        XCTAssertEqual(silu[0], 0)
        XCTAssertEqual(silu[1], 0.7310586, accuracy: 1e-6)
        XCTAssertEqual(silu[2], -0.2384058, accuracy: 1e-6)
        let gelu = c.gelu(x).scalars
        XCTAssertEqual(gelu[1], 0.8413447, accuracy: 1e-6)
        XCTAssertEqual(gelu[2], -0.0455003, accuracy: 1e-6)
    }

    func testAttentionWithOneKeyReturnsItsValue() {
        // A single key gets all the weight whatever the scores: output = value, per head.
        let q = Tensor(shape: [1, 2, 4], scalars: [1, 2, 3, 4, -1, 0, 5, 2])
        let k = Tensor(shape: [1, 1, 4], scalars: [0.3, -0.2, 0.9, 1])
        let v = Tensor(shape: [1, 1, 4], scalars: [7, 8, 9, 10])
        let y = c.attention(q: q, k: k, v: v, heads: 2)
        XCTAssertEqual(y.scalars, [7, 8, 9, 10, 7, 8, 9, 10])
        // Two equal keys: the mean of their values.
        let k2 = Tensor(shape: [1, 2, 2], scalars: [1, 1, 1, 1])
        let v2 = Tensor(shape: [1, 2, 2], scalars: [0, 2, 4, 6])
        let y2 = c.attention(q: Tensor(shape: [1, 1, 2], scalars: [3, -1]), k: k2, v: v2, heads: 1)
        XCTAssertEqual(y2.scalars, [2, 4])
    }

    func testTimestepEmbeddingOfZeroIsCosOnesThenSinZeros() {
        let e = TimestepFeatures.embed([0], dim: 6, flipSinToCos: true, freqShift: 0)
        XCTAssertEqual(e.scalars, [1, 1, 1, 0, 0, 0])
        let unflipped = TimestepFeatures.embed([0], dim: 4, flipSinToCos: false, freqShift: 1)
        XCTAssertEqual(unflipped.scalars, [0, 0, 1, 1])
    }

    func testUpsampleAndConcatAndTokensByHand() {
        let x = Tensor(shape: [1, 1, 1, 2], scalars: [1, 2])
        XCTAssertEqual(c.upsampleNearest2x(x).scalars, [1, 1, 2, 2, 1, 1, 2, 2])
        let a = Tensor(shape: [2, 1, 1, 1], scalars: [1, 2])
        let b = Tensor(shape: [2, 2, 1, 1], scalars: [3, 4, 5, 6])
        XCTAssertEqual(c.concatChannels([a, b]).scalars, [1, 3, 4, 2, 5, 6])
        let image = Tensor(shape: [1, 2, 1, 3], scalars: [1, 2, 3, 4, 5, 6])
        let tokens = c.toTokens(image)
        XCTAssertEqual(tokens.shape, [1, 3, 2])
        XCTAssertEqual(tokens.scalars, [1, 4, 2, 5, 3, 6])
        XCTAssertEqual(c.fromTokens(tokens, height: 1, width: 3), image)
    }

    // MARK: against torch

    func testOperatorsMatchTorch() throws {
        let ops = try Fixtures.golden("ops")
        func t(_ name: String) throws -> Tensor { try ops.tensor(name) }

        let gn = GroupNorm(groups: 4, eps: 1e-5, weight: try t("groupnorm.weight"),
                           bias: try t("groupnorm.bias"))
        assertMatches(c.groupNorm(try t("groupnorm.x"), gn), try t("groupnorm.y"), "group norm",
                      limit: 1e-6)
        let ln = LayerNorm(eps: 1e-5, weight: try t("layernorm.weight"), bias: try t("layernorm.bias"))
        assertMatches(c.layerNorm(try t("layernorm.x"), ln), try t("layernorm.y"), "layer norm",
                      limit: 1e-6)

        let x = try t("conv.x")
        let conv = Conv2d(weight: try t("conv.weight"), bias: try t("conv.bias"), padding: 1)
        assertMatches(c.conv2d(x, conv), try t("conv.y"), "conv 3x3", limit: 1e-6)
        let strided = Conv2d(weight: try t("conv.weight"), bias: try t("conv.bias"), stride: 2,
                             padding: 1)
        assertMatches(c.conv2d(x, strided), try t("conv_s2.y"), "conv 3x3 stride 2", limit: 1e-6)
        let pointwise = Conv2d(weight: try t("conv_k1.weight"), bias: try t("conv_k1.bias"))
        assertMatches(c.conv2d(x, pointwise), try t("conv_k1.y"), "conv 1x1", limit: 1e-6)

        assertMatches(c.gelu(try t("gelu.x")), try t("gelu.y"), "gelu", limit: 1e-6)
        assertMatches(c.silu(try t("silu.x")), try t("silu.y"), "silu", limit: 1e-6)
        assertMatches(c.attention(q: try t("attention.q"), k: try t("attention.k"),
                                  v: try t("attention.v"), heads: 4),
                      try t("attention.y"), "attention", limit: 1e-6)

        let steps = try t("timestep_embedding.t").scalars
        assertMatches(TimestepFeatures.embed(steps, dim: 32, flipSinToCos: true, freqShift: 0),
                      try t("timestep_embedding.y"), "timestep embedding", limit: 1e-6)
        assertMatches(TimestepFeatures.embed(steps, dim: 32, flipSinToCos: false, freqShift: 1),
                      try t("timestep_embedding_shift1.y"), "timestep embedding, shift 1",
                      limit: 1e-6)

        assertMatches(c.upsampleNearest2x(try t("upsample.x")), try t("upsample.y"), "upsample",
                      limit: 0)
        let projection = Linear(weight: try t("geglu.weight"), bias: try t("geglu.bias"))
        assertMatches(c.gegluGate(c.linear(try t("geglu.x"), projection)), try t("geglu.y"), "geglu",
                      limit: 1e-6)
    }
}
