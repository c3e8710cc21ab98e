// MappedBuffers: the memory-mapped driver buffers of one V4L2 stream, owned by a non-copyable
// value that unmaps them when it goes away.

/// The mmap'd buffers of a stream. Not copyable: exactly one owner, and `deinit` calls munmap
/// for every mapping through the same system-call layer that mapped it.
public struct MappedBuffers: ~Copyable {
    private let system: any SystemCalls
    private var mappings: [(address: UnsafeMutableRawPointer, length: Int)] = []

    init(system: any SystemCalls) {
        self.system = system
    }

    /// Maps `length` bytes of the device at `offset` (the buffer's QUERYBUF m.offset).
    mutating func map(descriptor: Int32, length: Int, offset: Int) throws(Errno) {
        let address = try system.mmap(length: length, descriptor: descriptor, offset: offset)
        mappings.append((address, length))
    }

    public var count: Int { mappings.count }

    /// The mapped length of buffer `index`.
    public func length(_ index: Int) -> Int {
        precondition(index >= 0 && index < mappings.count, "buffer \(index) is not mapped")
        return mappings[index].length
    }

    /// A copy of the first `count` bytes of buffer `index` (count <= its length).
    public func bytes(_ index: Int, count: Int) -> [UInt8] {
        precondition(index >= 0 && index < mappings.count, "buffer \(index) is not mapped")
        precondition(count >= 0 && count <= mappings[index].length,
                     "\(count) bytes asked of a \(mappings[index].length)-byte buffer")
        let source = UnsafeRawBufferPointer(start: mappings[index].address, count: count)
        return Array(source)
    }

    deinit {
        for mapping in mappings { system.munmap(mapping.address, length: mapping.length) }
    }
}
