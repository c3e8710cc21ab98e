// CLIPTextModel and PromptEmbedding against transformers (Fixtures/clip/expected.safetensors),
// the causal attention against its scalar twin, and the errors for broken CLIP folders.

import Foundation
import XCTest
@testable import MVADEngine

/// The limit of the text encoder's parity: relative L2 error of last_hidden_state.
let clipParityLimit = 1e-5

final class CLIPTextModelTests: CLIPScratchTestCase {
    /// Both fixture models (quick_gelu, 2 layers, model.safetensors with transformers 5 keys;
    /// exact gelu, sharded, `text_model.` keys plus an I64 buffer) on both prompts (7 tokens
    /// padded, and one truncated from 98) match transformers' last_hidden_state.
    func testLastHiddenStateMatchesTransformers() throws {
        let (expected, prompts) = try CLIPFixture.embeddedPrompts()
        XCTAssertEqual(prompts.count, 2)
        let compute = Compute(threads: 2)
        for name in ["text_encoder", "sharded"] {
            let path = name == "sharded" ? CLIPFixture.path(name) : CLIPFixture.root
            let folder = try CLIPFolder(path)
            let tokenizer = try folder.tokenizer()
            let model = try folder.textModel()
            for (index, prompt) in prompts {
                let ids = tokenizer.encode(prompt, paddedTo: 77)
                let states = try model.lastHiddenState(ids: ids, compute: compute)
                assertMatches(states, try expected.tensor("\(name).\(index)"), "\(name).\(index)",
                              limit: clipParityLimit)
            }
        }
    }

    /// The public entry point from an SD pipeline root and from a single folder holding both
    /// halves; the padded ids and counts are transformers'.
    func testPromptEmbeddingFromBothLayouts() throws {
        let (expected, prompts) = try CLIPFixture.embeddedPrompts()
        let cases = try CLIPFixture.expected().cases
        let short = try XCTUnwrap(prompts[0])
        let root = try PromptEmbedding.compute(prompt: short, clipFolder: CLIPFixture.root)
        assertMatches(root.hiddenStates, try expected.tensor("text_encoder.0"), "root",
                      limit: clipParityLimit)
        XCTAssertEqual(root.ids, cases[0].padded)
        XCTAssertEqual(root.tokenCount, 7)
        XCTAssertFalse(root.wasTruncated)

        let long = try XCTUnwrap(prompts[8])
        let single = try PromptEmbedding.compute(prompt: long,
                                                 clipFolder: CLIPFixture.path("sharded"))
        assertMatches(single.hiddenStates, try expected.tensor("sharded.8"), "single folder",
                      limit: clipParityLimit)
        XCTAssertEqual(single.tokenCount, 77)
        XCTAssertEqual(single.untruncatedTokenCount, cases[8].ids.count)
        XCTAssertGreaterThan(single.untruncatedTokenCount, 77)
        XCTAssertTrue(single.wasTruncated)
        XCTAssertEqual(PromptEmbedding.prompt(category: "GummyBear"), "A photo of a GummyBear")
    }

    /// A full CLIPModel config.json (model_type "clip", the text encoder under text_config)
    /// gives the same encoder.
    func testFullCLIPConfig() throws {
        let root = scratch + "/clip"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        _ = try copyFixture("text_encoder", to: "clip/text_encoder")
        _ = try copyFixture("tokenizer", to: "clip/tokenizer")
        try writeText("""
            {"model_type": "clip", "projection_dim": 32, "vision_config": {"hidden_size": 8},
             "text_config": {"vocab_size": 760, "hidden_size": 32, "intermediate_size": 64,
                             "num_hidden_layers": 2, "num_attention_heads": 4}}
            """, to: root + "/text_encoder/config.json")
        let (expected, prompts) = try CLIPFixture.embeddedPrompts()
        let embedding = try PromptEmbedding.compute(prompt: try XCTUnwrap(prompts[0]),
                                                    clipFolder: root)
        XCTAssertEqual(try CLIPFolder(root).textModel().config.hiddenAct, "quick_gelu")
        assertMatches(embedding.hiddenStates, try expected.tensor("text_encoder.0"), "clip config",
                      limit: clipParityLimit)
    }

    /// Without model.safetensors the "fp16" variant's file is read (here the fixture's weights
    /// under that name: the dtype conversion is SafeTensorsTests' business); with both,
    /// model.safetensors wins, as in transformers.
    func testFP16VariantIsFound() throws {
        let folder = try copyFixture("text_encoder", to: "variant")
        _ = try copyFixture("tokenizer", to: "variant/tokenizer")
        try FileManager.default.moveItem(atPath: folder + "/model.safetensors",
                                         toPath: folder + "/model.fp16.safetensors")
        XCTAssertEqual(try CLIPFolder(folder).weights,
                       .single(path: folder + "/model.fp16.safetensors"))
        let (expected, prompts) = try CLIPFixture.embeddedPrompts()
        let embedding = try PromptEmbedding.compute(prompt: try XCTUnwrap(prompts[0]),
                                                    clipFolder: folder)
        assertMatches(embedding.hiddenStates, try expected.tensor("text_encoder.0"), "fp16 name",
                      limit: clipParityLimit)
        try FileManager.default.copyItem(atPath: folder + "/model.fp16.safetensors",
                                         toPath: folder + "/model.safetensors")
        XCTAssertEqual(try CLIPFolder(folder).weights, .single(path: folder + "/model.safetensors"))
    }

    /// The written file holds one tensor under the name the model folder reads, with the
    /// metadata given.
    func testWrittenFileLayout() throws {
        let embedding = try PromptEmbedding.compute(prompt: "A photo of a Lollipop",
                                                    clipFolder: CLIPFixture.root)
        let path = scratch + "/prompt_embedding.safetensors"
        try embedding.write(to: path, metadata: ["prompt": "A photo of a Lollipop"])
        let file = try SafeTensorsFile(path: path)
        XCTAssertEqual(file.names, ["encoder_hidden_states"])
        XCTAssertEqual(file.info("encoder_hidden_states")?.dtype, .float32)
        XCTAssertEqual(try file.tensor("encoder_hidden_states"), embedding.hiddenStates)
        XCTAssertEqual(file.metadata["prompt"], "A photo of a Lollipop")
    }

    /// The I64 position_ids buffer of the old-layout shard reads as 0, 1, ..., 76.
    func testInt64TensorsRead() throws {
        let shard = try SafeTensorsFile(
            path: CLIPFixture.path("sharded/model-00001-of-00002.safetensors"))
        let ids = try shard.tensor("text_model.embeddings.position_ids")
        XCTAssertEqual(shard.info("text_model.embeddings.position_ids")?.dtype, .int64)
        XCTAssertEqual(ids.shape, [1, 77])
        XCTAssertEqual(ids.scalars, (0..<77).map(Float.init))
    }

    /// Causal attention against the Double scalar twin (several query tiles, 3 heads), and by
    /// hand: the first query sees only the first key, so its output is the first value row.
    func testCausalAttentionMatchesReference() {
        var generator = CLIPTestRandom(seed: 11)
        let (n, l, width, heads) = (2, 300, 12, 3)
        func random() -> Tensor {
            Tensor(shape: [n, l, width],
                   scalars: (0..<(n * l * width)).map { _ in generator.normal() })
        }
        let (q, k, v) = (random(), random(), random())
        for causal in [true, false] {
            let fast = Compute(threads: 2).attention(q: q, k: k, v: v, heads: heads, causal: causal)
            let reference = ReferenceKernels.attention(q: q, k: k, v: v, heads: heads,
                                                       causal: causal)
            assertMatches(fast, reference, "attention causal \(causal)", limit: 1e-5)
        }
        let causal = Compute(threads: 1).attention(q: q, k: k, v: v, heads: heads, causal: true)
        for image in 0..<n {
            let row = image * l * width
            XCTAssertEqual(Array(causal.scalars[row..<(row + width)]),
                           Array(v.scalars[row..<(row + width)]), "image \(image), query 0")
        }
    }

    /// The MLP activations by hand: quick_gelu x sigmoid(1.702 x), tanh GELU.
    func testActivationsByHand() {
        let x = Tensor(shape: [3], scalars: [1, -2, 0.5])
        let c = Compute(threads: 1)
        let quick: [Float] = [0.8457957659, -0.0643413769, 0.3503884366]
        let tanh: [Float] = [0.8411919906, -0.0454023059, 0.3457140098]
        for (a, b) in zip(c.quickGELU(x).scalars, quick) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        for (a, b) in zip(c.geluTanh(x).scalars, tanh) { XCTAssertEqual(a, b, accuracy: 1e-6) }
    }
}

/// A small seeded generator for test inputs (SplitMix64, Box-Muller normals).
struct CLIPTestRandom {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func uniform() -> Double { (Double(next() >> 11) + 0.5) / Double(1 << 53) }

    mutating func normal() -> Float {
        Float((-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform()))
    }
}
