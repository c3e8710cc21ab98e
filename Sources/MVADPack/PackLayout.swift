// PackLayout: the checks that span several table entries (unique names, offset order without
// overlap, quantised tensors and their scales), shared by the reader and the writer.

enum PackLayout {
    /// dtype size x product of `shape`, or `sizeOverflow` when that exceeds Int.max.
    static func byteCount(
        dtype: PackDType, shape: [Int], scheme: PackQuantization = .none, tensor: String,
        path: String
    ) throws -> Int {
        if scheme == .int8Panels, dtype == .int8 {
            return try panelByteCount(shape: shape, tensor: tensor, path: path)
        }
        var count = dtype.byteSize
        for extent in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard !overflow else {
                throw PackError.sizeOverflow(path: path, tensor: tensor, dtype: dtype, shape: shape)
            }
            count = product
        }
        return count
    }

    /// Bytes of an [O, ...] int8 weight in the panel layout: ceil(O / 16) panels of
    /// 64 * (ceil(K / 4) + 1) bytes (the same as mvad_pack_s8_weights_size).
    static func panelByteCount(shape: [Int], tensor: String, path: String) throws -> Int {
        let overflow = PackError.sizeOverflow(path: path, tensor: tensor, dtype: .int8, shape: shape)
        guard let rows = shape.first else { return 0 }
        var columns = 1
        for extent in shape.dropFirst() {
            let (product, over) = columns.multipliedReportingOverflow(by: extent)
            guard !over else { throw overflow }
            columns = product
        }
        let panels = rows / 16 + (rows % 16 == 0 ? 0 : 1)
        let groups = columns / 4 + (columns % 4 == 0 ? 0 : 1)
        let (panelBytes, over1) = (groups + 1).multipliedReportingOverflow(by: 64)
        let (total, over2) = panelBytes.multipliedReportingOverflow(by: panels)
        guard !over1, !over2 else { throw overflow }
        return total
    }

    /// Every check across entries; `entries` is in table order.
    static func check(_ entries: [PackEntry], path: String) throws -> [String: PackEntry] {
        let byName = try uniqueNames(entries, path: path)
        try checkOrder(entries, path: path)
        try checkQuantization(entries, byName: byName, path: path)
        return byName
    }

    /// The entries keyed by name; throws on the first repeated name.
    static func uniqueNames(_ entries: [PackEntry], path: String) throws -> [String: PackEntry] {
        var byName: [String: PackEntry] = [:]
        byName.reserveCapacity(entries.count)
        for entry in entries {
            guard byName.updateValue(entry, forKey: entry.name) == nil else {
                throw PackError.duplicateName(path: path, tensor: entry.name)
            }
        }
        return byName
    }

    /// Offsets ascend in table order and no tensor starts before the previous one ends.
    static func checkOrder(_ entries: [PackEntry], path: String) throws {
        for (previous, next) in zip(entries, entries.dropFirst())
        where next.offset < previous.byteRange.upperBound {
            throw PackError.tensorsOverlapOrUnsorted(
                path: path, first: previous.name, firstRange: previous.byteRange,
                second: next.name, secondRange: next.byteRange)
        }
    }

    /// Quantised tensors are i8, fit their scheme and name an existing scales tensor of the
    /// right dtype and shape; plain tensors name no scales.
    static func checkQuantization(
        _ entries: [PackEntry], byName: [String: PackEntry], path: String
    ) throws {
        for entry in entries {
            let scheme = entry.quantization
            guard scheme != .none else {
                guard entry.scalesName.isEmpty else {
                    throw PackError.unexpectedScalesName(
                        path: path, tensor: entry.name, scales: entry.scalesName)
                }
                continue
            }
            guard entry.dtype == .int8 else {
                throw PackError.quantizedDTypeMismatch(
                    path: path, tensor: entry.name, scheme: scheme, dtype: entry.dtype)
            }
            guard let expected = scheme.scaleShape(for: entry.shape) else {
                throw PackError.shapeUnfitForScheme(
                    path: path, tensor: entry.name, scheme: scheme, shape: entry.shape)
            }
            guard entry.scalesName != entry.name, let scales = byName[entry.scalesName] else {
                throw PackError.scalesNotFound(
                    path: path, tensor: entry.name, scales: entry.scalesName)
            }
            guard scales.quantization == .none, scheme.scaleDTypes.contains(scales.dtype) else {
                throw PackError.scalesDTypeMismatch(
                    path: path, tensor: entry.name, scales: scales.name, dtype: scales.dtype,
                    allowed: scheme.scaleDTypes)
            }
            guard scales.shape == expected else {
                throw PackError.scalesShapeMismatch(
                    path: path, tensor: entry.name, scales: scales.name, found: scales.shape,
                    expected: expected)
            }
        }
    }
}
