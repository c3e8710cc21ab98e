// transformers' CLIPTokenizer: byte-level BPE with `</w>` word ends, the start and end tokens
// around every prompt, truncation and padding to a fixed length (the text encoder's input).

/// Turns prompt text into CLIP token ids exactly as transformers' CLIPTokenizer (its
/// `tokenizers` pipeline) does for ordinary prompts:
///
/// 1. the special token strings (start, end, pad, unknown) found in the raw text become
///    their ids; the text between them goes through the next steps;
/// 2. NFC, white-space runs to one space, lower case (`CLIPTextSplitting.normalized`);
/// 3. CLIP's word pattern, then each word's UTF-8 bytes as byte symbols, the last one
///    carrying `</w>`;
/// 4. BPE: the adjacent pair with the lowest merge rank is merged, everywhere in the word
///    from left to right, until no pair has a rank; each symbol's id, or the unknown token's
///    for a symbol outside the vocabulary;
/// 5. the start token before and the end token after the ids.
///
/// Known differences, none of which an ordinary prompt meets: transformers also matches a
/// special token whose spelling normalisation produces (say "<|STARTOFTEXT|>" lower-cased),
/// where here only the exact spelling counts; and its regex engine counts the letters and
/// digits Unicode 14 and later added as punctuation, where Swift's tables know them.
/// (Checked over every code point: the lower-case mappings and white space agree.)
public struct CLIPTokenizer: Sendable {
    /// The token strings with a special role, as tokenizer_config.json names them.
    public struct SpecialTokens: Sendable, Equatable {
        public var start: String     // bos_token
        public var end: String       // eos_token
        public var padding: String   // pad_token
        public var unknown: String   // unk_token

        /// CLIPTokenizer's defaults; SD v1.x tokenizers use them too.
        public static let clip = SpecialTokens(start: "<|startoftext|>", end: "<|endoftext|>",
                                               padding: "<|endoftext|>", unknown: "<|endoftext|>")

        public init(start: String, end: String, padding: String, unknown: String) {
            self.start = start
            self.end = end
            self.padding = padding
            self.unknown = unknown
        }
    }

    /// Token string -> id.
    public let vocabulary: [String: Int]
    public let specialTokens: SpecialTokens
    public let startID: Int
    public let endID: Int
    public let paddingID: Int
    public let unknownID: Int
    /// `model_max_length` of tokenizer_config.json (77 for SD), nil when not declared.
    public let maxLength: Int?

    /// Merge rank of each pair of adjacent symbols (its line in merges.txt, from 0).
    private let ranks: [SymbolPair: Int]
    /// The special token strings as scalars, longest first (the longest match wins).
    private let specialScalars: [(scalars: [Unicode.Scalar], id: Int)]

    struct SymbolPair: Hashable, Sendable {
        let left: String
        let right: String
    }

    /// A tokenizer over `vocabulary` and the ordered `merges`; every merge's parts and result,
    /// and every special token, must be in the vocabulary. `source` names where the tables
    /// came from in errors.
    public init(vocabulary: [String: Int], merges: [(left: String, right: String)],
                specialTokens: SpecialTokens = .clip, maxLength: Int?,
                source: String) throws {
        var ranks: [SymbolPair: Int] = [:]
        for (rank, merge) in merges.enumerated() {
            for part in [merge.left, merge.right, merge.left + merge.right]
            where vocabulary[part] == nil {
                throw CLIPTokenizerError.mergeOutsideVocabulary(
                    source: source, merge: rank + 1, pair: "\(merge.left) \(merge.right)",
                    token: part)
            }
            // A repeated pair keeps its last rank, as `tokenizers` builds its merge table.
            ranks[SymbolPair(left: merge.left, right: merge.right)] = rank
        }
        func id(_ token: String, _ role: String) throws -> Int {
            guard let id = vocabulary[token] else {
                throw CLIPTokenizerError.specialTokenOutsideVocabulary(
                    source: source, role: role, token: token)
            }
            return id
        }
        startID = try id(specialTokens.start, "bos_token")
        endID = try id(specialTokens.end, "eos_token")
        paddingID = try id(specialTokens.padding, "pad_token")
        unknownID = try id(specialTokens.unknown, "unk_token")
        if let maxLength, maxLength < 2 {
            throw CLIPTokenizerError.invalidMaxLength(source: source, found: maxLength)
        }
        self.vocabulary = vocabulary
        self.specialTokens = specialTokens
        self.maxLength = maxLength
        self.ranks = ranks
        let strings = Set([specialTokens.start, specialTokens.end, specialTokens.padding,
                           specialTokens.unknown])
        specialScalars = strings.compactMap { token in
            vocabulary[token].map { (Array(token.unicodeScalars), $0) }
        }.sorted { $0.scalars.count > $1.scalars.count
            || ($0.scalars.count == $1.scalars.count && $0.id < $1.id) }
    }

    /// The ids of `text` between the start and end tokens; no truncation, no padding.
    public func encode(_ text: String) -> [Int] {
        var ids = [startID]
        for segment in segments(text) {
            switch segment {
            case let .special(id):
                ids.append(id)
            case let .text(part):
                let normalized = CLIPTextSplitting.normalized(part)
                for word in CLIPTextSplitting.words(normalized) { ids += encodeWord(word) }
            }
        }
        return ids + [endID]
    }

    /// The ids the text encoder takes: the first `length - 2` ids of the text between the
    /// start and end tokens, then the padding token up to `length` (transformers' padding
    /// "max_length" with truncation).
    public func encode(_ text: String, paddedTo length: Int) -> [Int] {
        precondition(length >= 2, "a padded encoding needs room for the start and end tokens")
        let content = encode(text).dropFirst().dropLast().prefix(length - 2)
        let ids = [startID] + content + [endID]
        return ids + Array(repeating: paddingID, count: length - ids.count)
    }

    // MARK: - Steps

    private enum Segment {
        case text(String)
        case special(Int)
    }

    /// The raw text cut at every special token string (leftmost, then longest, match).
    private func segments(_ text: String) -> [Segment] {
        let scalars = Array(text.unicodeScalars)
        var segments: [Segment] = []
        var plainStart = 0
        var i = 0
        func flushPlain(upTo end: Int) {
            guard end > plainStart else { return }
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars[plainStart..<end])
            segments.append(.text(String(view)))
        }
        while i < scalars.count {
            let match = specialScalars.first { special in
                i + special.scalars.count <= scalars.count
                    && scalars[i..<(i + special.scalars.count)].elementsEqual(special.scalars)
            }
            guard let match else {
                i += 1
                continue
            }
            flushPlain(upTo: i)
            segments.append(.special(match.id))
            i += match.scalars.count
            plainStart = i
        }
        flushPlain(upTo: scalars.count)
        return segments
    }

    /// BPE over one word's byte symbols, `</w>` on the last.
    func encodeWord(_ word: String) -> [Int] {
        var symbols = CLIPTextSplitting.byteSymbols(of: word)
        guard !symbols.isEmpty else { return [] }
        symbols[symbols.count - 1] += "</w>"
        while symbols.count > 1, let best = lowestRankedPair(symbols) {
            var merged: [String] = []
            merged.reserveCapacity(symbols.count - 1)
            var i = 0
            while i < symbols.count {
                if i + 1 < symbols.count, symbols[i] == best.left, symbols[i + 1] == best.right {
                    merged.append(best.left + best.right)
                    i += 2
                } else {
                    merged.append(symbols[i])
                    i += 1
                }
            }
            symbols = merged
        }
        return symbols.map { vocabulary[$0] ?? unknownID }
    }

    private func lowestRankedPair(_ symbols: [String]) -> SymbolPair? {
        var best: (pair: SymbolPair, rank: Int)? = nil
        for i in 0..<(symbols.count - 1) {
            let pair = SymbolPair(left: symbols[i], right: symbols[i + 1])
            if let rank = ranks[pair], rank < (best?.rank ?? Int.max) { best = (pair, rank) }
        }
        return best?.pair
    }
}
