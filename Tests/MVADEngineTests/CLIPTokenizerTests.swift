// CLIPTokenizer against transformers' CLIPTokenizer (ids in Fixtures/clip/expected.json), its
// text steps against hand-worked values, and its errors for broken tokenizer folders.

import Foundation
import XCTest
@testable import MVADEngine

final class CLIPTokenizerTests: CLIPScratchTestCase {
    /// Every fixture prompt (case, punctuation, digits, white space, contractions, accents,
    /// emoji, the marker strings, 98 tokens) gives transformers' ids, unpadded and padded
    /// or truncated to 77.
    func testIdsMatchTransformers() throws {
        let expected = try CLIPFixture.expected()
        let tokenizer = try CLIPTokenizer(folder: CLIPFixture.path("tokenizer"))
        XCTAssertEqual(tokenizer.maxLength, expected.maxLength)
        XCTAssertEqual(expected.cases.count, 9)
        for item in expected.cases {
            XCTAssertEqual(tokenizer.encode(item.prompt), item.ids,
                           "prompt \(item.prompt.debugDescription)")
            XCTAssertEqual(tokenizer.encode(item.prompt, paddedTo: expected.maxLength), item.padded,
                           "padded prompt \(item.prompt.debugDescription)")
        }
        let long = try XCTUnwrap(expected.cases.last)
        XCTAssertGreaterThan(long.ids.count, 77, "the fixture must hold a prompt to truncate")
        XCTAssertEqual(tokenizer.encode(long.prompt, paddedTo: 77).last, tokenizer.endID,
                       "truncation keeps the end token")
    }

    /// tokenizer.json (as CLIPTokenizer.save_pretrained writes it) gives the same ids.
    func testTokenizerJSONGivesTheSameIds() throws {
        let expected = try CLIPFixture.expected()
        let tokenizer = try CLIPTokenizer(folder: CLIPFixture.path("sharded"))
        for item in expected.cases {
            XCTAssertEqual(tokenizer.encode(item.prompt, paddedTo: 77), item.padded,
                           "prompt \(item.prompt.debugDescription)")
        }
    }

    /// A config declaring pad_token "!" (as SD 2.x does) pads with "!" and, like transformers,
    /// treats "!" in the text as that special token.
    func testPadTokenFromTheConfig() throws {
        let expected = try CLIPFixture.expected()
        let folder = try copyFixture("tokenizer", to: "bang")
        try remove(folder + "/special_tokens_map.json")
        try writeText("""
            {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "!",
             "unk_token": "<|endoftext|>", "model_max_length": 77}
            """, to: folder + "/tokenizer_config.json")
        let tokenizer = try CLIPTokenizer(folder: folder)
        XCTAssertEqual(tokenizer.paddingID, expected.padExclamationID)
        XCTAssertEqual(tokenizer.paddingID, 33, "'!' is byte 0x21, whose symbol has id 0x21")
        for item in expected.cases {
            XCTAssertEqual(tokenizer.encode(item.prompt, paddedTo: 77), item.paddedPadExclamation,
                           "prompt \(item.prompt.debugDescription)")
        }
    }

    /// special_tokens_map.json overrides tokenizer_config.json, as in transformers.
    func testSpecialTokensMapWins() throws {
        let folder = try copyFixture("tokenizer", to: "both")
        try writeText("""
            {"pad_token": "!", "model_max_length": 77}
            """, to: folder + "/tokenizer_config.json")
        let tokenizer = try CLIPTokenizer(folder: folder)
        XCTAssertEqual(tokenizer.specialTokens.padding, "<|endoftext|>")
        XCTAssertEqual(tokenizer.paddingID, tokenizer.endID)
    }

    /// The text steps by hand: normalisation, CLIP's word pattern, the byte table.
    func testTextStepsByHand() {
        XCTAssertEqual(CLIPTextSplitting.normalized("  A\t\tB\u{00A0}\u{3000}C\n"), " a b c ")
        XCTAssertEqual(CLIPTextSplitting.normalized("Cafe\u{0301} \u{00C9}"), "caf\u{00E9} \u{00E9}")
        XCTAssertEqual(CLIPTextSplitting.words("it's a gummybear, no. 12!!"),
                       ["it", "'s", "a", "gummybear", ",", "no", ".", "1", "2", "!!"])
        XCTAssertEqual(CLIPTextSplitting.words("x<|endoftext|>y"),
                       ["x", "<|", "endoftext", "|>", "y"])
        XCTAssertEqual(CLIPTextSplitting.byteSymbols[Int(UInt8(ascii: "a"))], "a")
        XCTAssertEqual(CLIPTextSplitting.byteSymbols[0], "\u{0100}")
        XCTAssertEqual(CLIPTextSplitting.byteSymbols[32], "\u{0120}", "space is the famous Ġ")
        XCTAssertEqual(CLIPTextSplitting.byteSymbols[0x7F], "\u{0121}")
        XCTAssertEqual(CLIPTextSplitting.byteSymbols[0xAD], "\u{0143}", "the 68th remapped byte")
        XCTAssertEqual(Set(CLIPTextSplitting.byteSymbols).count, 256)
        XCTAssertEqual(CLIPTextSplitting.byteSymbols(of: "é"), ["\u{00C3}", "\u{00A9}"])
    }

    /// BPE by hand on a four-merge table: lowest rank first, all occurrences left to right.
    func testMergeOrderByHand() throws {
        let tokens = ["a", "b", "a</w>", "b</w>", "ab", "aa", "aaa</w>", "ab</w>", "<s>", "</s>"]
        let vocabulary = Dictionary(uniqueKeysWithValues: tokens.enumerated().map { ($1, $0) })
        let tokenizer = try CLIPTokenizer(
            vocabulary: vocabulary,
            merges: [("a", "b"), ("a", "a"), ("a", "b</w>"), ("aa", "a</w>")],
            specialTokens: .init(start: "<s>", end: "</s>", padding: "</s>", unknown: "</s>"),
            maxLength: 6, source: "test")
        // "abab": a b a b</w> -> ab a b</w> (rank 0) -> ab ab</w> (rank 2).
        XCTAssertEqual(tokenizer.encodeWord("abab"), [4, 7])
        // "aaa": a a a</w> -> aa a</w> (rank 1, leftmost) -> aaa</w> (rank 3).
        XCTAssertEqual(tokenizer.encodeWord("aaa"), [6])
        // "ac": c</w> is not in the vocabulary -> the unknown token.
        XCTAssertEqual(tokenizer.encodeWord("ac"), [0, 9])
        XCTAssertEqual(tokenizer.encode("AB b", paddedTo: 6), [8, 7, 3, 9, 9, 9])
        XCTAssertEqual(tokenizer.encode("a a a a a", paddedTo: 6), [8, 2, 2, 2, 2, 9])
    }

    /// merges.txt with CRLF line ends reads as with LF.
    func testMergesWithCRLF() throws {
        let folder = try copyFixture("tokenizer", to: "crlf")
        let merges = try String(contentsOfFile: folder + "/merges.txt", encoding: .utf8)
        try writeText(merges.replacingOccurrences(of: "\n", with: "\r\n"),
                      to: folder + "/merges.txt")
        let expected = try CLIPFixture.expected()
        let tokenizer = try CLIPTokenizer(folder: folder)
        XCTAssertEqual(tokenizer.encode(expected.cases[0].prompt), expected.cases[0].ids)
    }

    // MARK: - Errors

    func testFolderWithoutTokenizerFiles() throws {
        let folder = try copyFixture("tokenizer", to: "nomerges")
        try remove(folder + "/merges.txt")
        assertThrows([folder, "no CLIP tokenizer", "vocab.json + merges.txt", "tokenizer.json"]) {
            _ = try CLIPTokenizer(folder: folder)
        }
    }

    func testCorruptVocabulary() throws {
        let folder = try copyFixture("tokenizer", to: "badvocab")
        try writeText("[1, 2, 3]", to: folder + "/vocab.json")
        assertThrows([folder + "/vocab.json", "a list", "expected a JSON object"]) {
            _ = try CLIPTokenizer(folder: folder)
        }
        try writeText("{\"a\": \"x\"}", to: folder + "/vocab.json")
        assertThrows(["vocab.json", "\"a\"", "the string \"x\"", "non-negative integer ids"]) {
            _ = try CLIPTokenizer(folder: folder)
        }
        try writeText("{\"a\": 1", to: folder + "/vocab.json")
        assertThrows(["vocab.json", "is not valid JSON"]) { _ = try CLIPTokenizer(folder: folder) }
    }

    func testCorruptMerges() throws {
        let folder = try copyFixture("tokenizer", to: "badmerges")
        try writeText("#version: 0.2\nh o\nthree part line\n", to: folder + "/merges.txt")
        assertThrows([folder + "/merges.txt", "line 3", "three part line", "two symbols"]) {
            _ = try CLIPTokenizer(folder: folder)
        }
        try writeText("#version: 0.2\nh o\nq \u{00FF}zz\n", to: folder + "/merges.txt")
        assertThrows(["merge 2", "q \u{00FF}zz", "\u{00FF}zz", "not in the vocabulary"]) {
            _ = try CLIPTokenizer(folder: folder)
        }
    }

    func testSpecialTokenOutsideVocabulary() throws {
        let folder = try copyFixture("tokenizer", to: "badspecial")
        try writeText("{\"pad_token\": \"<pad>\"}", to: folder + "/special_tokens_map.json")
        assertThrows(["vocab.json", "pad_token", "\"<pad>\"", "not in the vocabulary"]) {
            _ = try CLIPTokenizer(folder: folder)
        }
    }

    func testTokenizerJSONOfAnotherModel() throws {
        let folder = scratch + "/wordpiece"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try writeText("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}",
                      to: folder + "/tokenizer.json")
        assertThrows([folder + "/tokenizer.json", "WordPiece", "expected CLIP's BPE"]) {
            _ = try CLIPTokenizer(folder: folder)
        }
    }
}
