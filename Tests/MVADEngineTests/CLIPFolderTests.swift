// The errors for CLIP folders that cannot give a prompt embedding: each names the path or
// tensor at fault, what was found and what was expected.

import Foundation
import XCTest
@testable import MVADEngine

final class CLIPFolderTests: CLIPScratchTestCase {
    /// A pipeline root copied from the fixture, to break one thing in.
    private func pipelineRoot() throws -> String {
        let root = scratch + "/sd"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        _ = try copyFixture("text_encoder", to: "sd/text_encoder")
        _ = try copyFixture("tokenizer", to: "sd/tokenizer")
        return root
    }

    private func compute(_ folder: String) throws {
        _ = try PromptEmbedding.compute(prompt: "A photo of a GummyBear", clipFolder: folder,
                                        compute: Compute(threads: 1))
    }

    func testMissingFolderAndPlainFile() throws {
        let missing = scratch + "/nothing"
        assertThrows([missing, "no such folder", "text_encoder/", "tokenizer/"]) {
            try compute(missing)
        }
        let file = scratch + "/file"
        try writeText("x", to: file)
        assertThrows([file, "not a folder"]) { try compute(file) }
    }

    func testTokenizerWithoutEncoder() throws {
        let root = try pipelineRoot()
        try remove(root + "/text_encoder")
        assertThrows([root, "has tokenizer/ but no text_encoder/", "model.safetensors"]) {
            try compute(root)
        }
    }

    func testPickledWeightsAreRefused() throws {
        let root = try pipelineRoot()
        try remove(root + "/text_encoder/model.safetensors")
        try writeText("not read", to: root + "/text_encoder/pytorch_model.bin")
        assertThrows([root + "/text_encoder", "pytorch_model.bin", "refuses pickles",
                      "model.safetensors (safetensors)"]) { try compute(root) }
        try remove(root + "/text_encoder/pytorch_model.bin")
        assertThrows([root + "/text_encoder", "no model.safetensors", "config.json"]) {
            try compute(root)
        }
    }

    func testConfigOfAnotherModel() throws {
        let root = try pipelineRoot()
        let config = root + "/text_encoder/config.json"
        try writeText("{\"model_type\": \"bert\", \"hidden_size\": 32}", to: config)
        assertThrows([config, "\"bert\"", "not a CLIP text model", "clip_text_model"]) {
            try compute(root)
        }
        try remove(config)
        assertThrows([root + "/text_encoder", "no config.json"]) { try compute(root) }
    }

    func testUnsupportedActivation() throws {
        let root = try pipelineRoot()
        try writeText("{\"model_type\": \"clip_text_model\", \"hidden_size\": 32, "
                      + "\"intermediate_size\": 64, \"num_hidden_layers\": 2, "
                      + "\"num_attention_heads\": 4, \"vocab_size\": 760, \"hidden_act\": \"relu\"}",
                      to: root + "/text_encoder/config.json")
        assertThrows(["CLIPTextModel", "hidden_act", "relu", "quick_gelu"]) { try compute(root) }
    }

    /// A config that does not describe the weights: the tensor and both shapes are named.
    func testShapeMismatchNamesTheTensor() throws {
        let root = try pipelineRoot()
        try writeText("{\"model_type\": \"clip_text_model\", \"hidden_size\": 32, "
                      + "\"intermediate_size\": 48, \"num_hidden_layers\": 2, "
                      + "\"num_attention_heads\": 4, \"vocab_size\": 760}",
                      to: root + "/text_encoder/config.json")
        assertThrows(["CLIPTextModel", "'encoder.layers.0.mlp.fc1.weight'", "[64, 32]",
                      "[48, 32]"]) { try compute(root) }
        try writeText("{\"model_type\": \"clip_text_model\", \"hidden_size\": 32, "
                      + "\"intermediate_size\": 64, \"num_hidden_layers\": 3, "
                      + "\"num_attention_heads\": 4, \"vocab_size\": 760}",
                      to: root + "/text_encoder/config.json")
        assertThrows(["'encoder.layers.2.layer_norm1.weight'", "missing"]) { try compute(root) }
    }

    func testMissingTokenizer() throws {
        let root = try pipelineRoot()
        try remove(root + "/tokenizer/merges.txt")
        assertThrows([root + "/tokenizer", "no CLIP tokenizer", "vocab.json + merges.txt"]) {
            try compute(root)
        }
    }

    func testMaxLengthMustFitThePositions() throws {
        let root = try pipelineRoot()
        let config = root + "/tokenizer/tokenizer_config.json"
        try writeText("{\"model_max_length\": 100}", to: config)
        assertThrows([root + "/tokenizer", "model_max_length is 100", "77 positions"]) {
            try compute(root)
        }
        try writeText("{\"model_max_length\": 1e30}", to: config)
        assertThrows([root + "/tokenizer", "declares no model_max_length", "77"]) {
            try compute(root)
        }
    }

    /// A tokenizer whose ids run past the encoder's vocabulary is caught before any lookup.
    func testIdsOutsideTheVocabulary() throws {
        let folder = try CLIPFolder(CLIPFixture.root)
        let model = try folder.textModel()
        assertThrows(["input_ids", "token id 760", "vocab_size 760", "does not belong"]) {
            _ = try model.lastHiddenState(ids: [758, 760, 759], compute: Compute(threads: 1))
        }
        assertThrows(["input_ids", "78 tokens", "1 to 77"]) {
            _ = try model.lastHiddenState(ids: Array(repeating: 1, count: 78),
                                          compute: Compute(threads: 1))
        }
    }
}
