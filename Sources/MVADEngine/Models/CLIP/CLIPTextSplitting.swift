// The text stages of transformers' CLIPTokenizer before BPE: normalisation (NFC, white-space
// runs to one space, lower case), CLIP's word pattern, and byte-level symbols (GPT-2's table).

import Foundation

/// The steps that turn prompt text into the byte-level words BPE works on. They follow the
/// `tokenizers` pipeline transformers builds for CLIPTokenizer: the normaliser
/// NFC -> Replace(`\s+`, " ") -> Lowercase, then the pre-tokeniser Split(CLIP's pattern,
/// matches kept) -> ByteLevel(no prefix space).
enum CLIPTextSplitting {
    /// NFC, every run of white space (Unicode White_Space) replaced by one space, then each
    /// scalar's full lower-case mapping. Leading and trailing spaces stay; the word pattern
    /// drops them.
    static func normalized(_ text: String) -> String {
        let composed = text.precomposedStringWithCanonicalMapping
        var scalars = String.UnicodeScalarView()
        var inSpace = false
        for scalar in composed.unicodeScalars {
            if scalar.properties.isWhitespace {
                if !inSpace { scalars.append(" ") }
                inSpace = true
                continue
            }
            inSpace = false
            scalars.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
        }
        return String(scalars)
    }

    /// The words of normalised text under CLIP's pattern
    /// `<|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`,
    /// each then split again by the byte-level pre-tokeniser's GPT-2 pattern (which only
    /// changes the two marker spellings: "<|", "endoftext", "|>"). White space is dropped.
    static func words(_ normalized: String) -> [String] {
        let scalars = Array(normalized.unicodeScalars)
        var words: [String] = []
        for piece in scan(scalars, clip: true) {
            words += scan(Array(piece.unicodeScalars), clip: false)
        }
        return words
    }

    /// The contractions both patterns keep as words of their own.
    private static let contractions: [[Unicode.Scalar]] = ["'s", "'t", "'re", "'ve", "'m", "'ll",
                                                             "'d"].map { Array($0.unicodeScalars) }
    private static let markers: [[Unicode.Scalar]] = ["<|startoftext|>", "<|endoftext|>"]
        .map { Array($0.unicodeScalars) }

    /// Leftmost matches of the pattern, alternatives tried in order at each position: the
    /// markers (CLIP only), contractions, a letter run, one digit (CLIP) or a digit run
    /// (GPT-2), a run of anything else but white space. Unmatched white space is skipped.
    private static func scan(_ s: [Unicode.Scalar], clip: Bool) -> [String] {
        var words: [String] = []
        var i = 0
        while i < s.count {
            if s[i].properties.isWhitespace {
                i += 1
                continue
            }
            let end = matchEnd(s, at: i, clip: clip)
            var word = String.UnicodeScalarView()
            word.append(contentsOf: s[i..<end])
            words.append(String(word))
            i = end
        }
        return words
    }

    /// Where the first matching alternative starting at `i` (not white space) ends.
    private static func matchEnd(_ s: [Unicode.Scalar], at i: Int, clip: Bool) -> Int {
        for literal in (clip ? markers : []) + contractions where hasPrefix(s, literal, at: i) {
            return i + literal.count
        }
        if isLetter(s[i]) { return runEnd(s, from: i, while: isLetter) }
        if isNumber(s[i]) { return clip ? i + 1 : runEnd(s, from: i, while: isNumber) }
        return runEnd(s, from: i) { !$0.properties.isWhitespace && !isLetter($0) && !isNumber($0) }
    }

    private static func hasPrefix(_ s: [Unicode.Scalar], _ literal: [Unicode.Scalar],
                                  at i: Int) -> Bool {
        i + literal.count <= s.count && Array(s[i..<(i + literal.count)]) == literal
    }

    private static func runEnd(_ s: [Unicode.Scalar], from i: Int,
                               while accepts: (Unicode.Scalar) -> Bool) -> Int {
        var end = i
        while end < s.count && accepts(s[end]) { end += 1 }
        return end
    }

    /// `\p{L}`: general categories Lu, Ll, Lt, Lm, Lo.
    static func isLetter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return true
        default:
            return false
        }
    }

    /// `\p{N}`: general categories Nd, Nl, No.
    static func isNumber(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    // MARK: - Byte-level symbols

    /// The symbol of each byte value (GPT-2's byte-to-unicode table): printable Latin-1 bytes
    /// (`!`...`~`, `¡`...`¬`, `®`...`ÿ`) stand for themselves; the other 68 bytes map, in byte
    /// order, to U+0100, U+0101, ...
    static let byteSymbols: [String] = {
        let printable = Set<UInt32>(Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF))
        var next: UInt32 = 0x100
        var table: [String] = []
        for byte in UInt32(0)..<256 {
            var value = byte
            if !printable.contains(byte) {
                value = next
                next += 1
            }
            guard let scalar = Unicode.Scalar(value) else {
                preconditionFailure("U+\(String(value, radix: 16)) is a valid scalar")
            }
            table.append(String(Character(scalar)))
        }
        return table
    }()

    /// A word's UTF-8 bytes as byte symbols, one symbol per byte.
    static func byteSymbols(of word: String) -> [String] {
        word.utf8.map { byteSymbols[Int($0)] }
    }
}
