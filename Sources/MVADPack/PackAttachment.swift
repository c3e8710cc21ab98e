// PackAttachment: tensors and one metadata object that a caller stores in a pack beside the
// model, such as its memory banks (MVADInspect's BankFile).

import MVADEngine

/// Tensors stored under their own names (each int8 with one f32 scale per row, or f32) and a
/// metadata object stored under `metadataKey`.
public struct PackAttachment: Sendable {
    public struct Item: Sendable {
        public let name: String
        public let tensor: Tensor
        /// int8 with one scale per row (dimension 0), as the converter stores weights; else f32.
        public let int8: Bool

        public init(name: String, tensor: Tensor, int8: Bool) {
            self.name = name
            self.tensor = tensor
            self.int8 = int8
        }
    }

    public let metadataKey: String
    /// The metadata object as JSON text (an object).
    public let metadataJSON: String
    public let items: [Item]

    public init(metadataKey: String, metadataJSON: String, items: [Item]) {
        self.metadataKey = metadataKey
        self.metadataJSON = metadataJSON
        self.items = items
    }
}
