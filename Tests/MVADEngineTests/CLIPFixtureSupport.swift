// Shared helpers of the CLIP tests: the fixture under Fixtures/clip (written by
// tools/reference/make_clip_fixture.py; see its README) and scratch folders built from it.

import Foundation
import XCTest
@testable import MVADEngine

enum CLIPFixture {
    /// Tests/MVADEngineTests/Fixtures/clip: an SD pipeline root (tokenizer/ + text_encoder/)
    /// plus sharded/ (a second model with tokenizer.json) and the expected results.
    static let root: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().appendingPathComponent("Fixtures/clip").path

    static func path(_ relative: String) -> String { root + "/" + relative }

    /// One prompt of expected.json and what transformers' CLIPTokenizer made of it.
    struct Case: Decodable {
        let prompt: String
        let ids: [Int]
        let padded: [Int]
        let paddedPadExclamation: [Int]

        enum CodingKeys: String, CodingKey {
            case prompt, ids, padded
            case paddedPadExclamation = "padded_pad_exclamation"
        }
    }

    struct Expected: Decodable {
        let maxLength: Int
        let padExclamationID: Int
        let cases: [Case]
        let transformers: String

        enum CodingKeys: String, CodingKey {
            case cases, transformers
            case maxLength = "max_length", padExclamationID = "pad_exclamation_id"
        }
    }

    static func expected() throws -> Expected {
        let data = try Data(contentsOf: URL(fileURLWithPath: path("expected.json")))
        return try JSONDecoder().decode(Expected.self, from: data)
    }

    /// The prompts whose last_hidden_state expected.safetensors holds, by index.
    static func embeddedPrompts() throws -> (file: SafeTensorsFile, prompts: [Int: String]) {
        let file = try SafeTensorsFile(path: path("expected.safetensors"))
        let json = Data((file.metadata["prompts"] ?? "{}").utf8)
        let byKey = try JSONDecoder().decode([String: String].self, from: json)
        var prompts: [Int: String] = [:]
        for (key, prompt) in byKey { if let index = Int(key) { prompts[index] = prompt } }
        return (file, prompts)
    }
}

/// A fresh temporary folder, removed by `tearDown`.
class CLIPScratchTestCase: XCTestCase {
    var scratch = ""

    override func setUpWithError() throws {
        scratch = NSTemporaryDirectory() + "mvad-clip-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: scratch)
    }

    /// Copies the fixture's `relative` folder to `name` in the scratch folder; returns its path.
    func copyFixture(_ relative: String, to name: String) throws -> String {
        let target = scratch + "/" + name
        try FileManager.default.copyItem(atPath: CLIPFixture.path(relative), toPath: target)
        return target
    }

    func writeText(_ text: String, to path: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    func remove(_ path: String) throws {
        try FileManager.default.removeItem(atPath: path)
    }

    /// Runs `body`, which must throw an error whose description contains every fragment.
    func assertThrows(_ fragments: [String], file: StaticString = #filePath, line: UInt = #line,
                      _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("expected an error mentioning \(fragments)", file: file, line: line)
        } catch {
            let text = "\(error)"
            for fragment in fragments {
                XCTAssertTrue(text.contains(fragment), "'\(text)' does not mention '\(fragment)'",
                              file: file, line: line)
            }
        }
    }
}
