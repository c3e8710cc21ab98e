// EmulatedKernel: a SystemCalls implementation backed by emulated device nodes and a virtual
// CLOCK_MONOTONIC that only moves when the caller sleeps or waits in poll.

import MVADCapture

/// A device node of the emulated kernel (a camera or a GPIO chip). Handles identify open
/// files of the node; a node may open more (GPIO line requests) through the kernel.
public protocol EmulatedNode: AnyObject {
    func open(kernel: EmulatedKernel) throws(Errno) -> Int
    func close(handle: Int)
    func ioctl(handle: Int, request: UInt, argument: UnsafeMutableRawPointer,
               kernel: EmulatedKernel) throws(Errno)
    func mmap(handle: Int, length: Int, offset: Int) throws(Errno) -> UnsafeMutableRawPointer
    func munmap(_ address: UnsafeMutableRawPointer, length: Int)
    /// The poll events of a handle now.
    func poll(handle: Int) -> PollEvents
    /// The next time the node's state changes by itself (a frame completes), if any.
    func nextEventTime(after now: UInt64) -> UInt64?
    func read(handle: Int, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int
    /// Lets the node's time run to `time` (frames are produced, debounce periods expire).
    func advance(to time: UInt64)
}

/// A kernel of emulated devices with a virtual clock.
public final class EmulatedKernel: SystemCalls {
    /// CLOCK_MONOTONIC now; starts at 1 s.
    public private(set) var now: UInt64 = 1_000_000_000
    /// Virtual time each system call takes (a real ioctl is not free).
    public var callCost: UInt64 = 10_000
    private var nodes: [String: EmulatedNode] = [:]
    private var files: [Int32: (node: EmulatedNode, handle: Int)] = [:]
    private var nextDescriptor: Int32 = 3
    /// Every call made, by name ("open", "ioctl", ...), for tests of the call pattern.
    public private(set) var callCounts: [String: Int] = [:]

    public init() {}

    /// Makes `node` appear at `path`.
    public func install(_ node: EmulatedNode, at path: String) {
        nodes[path] = node
    }

    /// Removes the node at `path` from the namespace (open fails with ENOENT); open files stay.
    public func removeNode(at path: String) {
        nodes[path] = nil
    }

    /// Number of open descriptors (to check nothing leaks).
    public var openDescriptorCount: Int { files.count }

    /// A new descriptor for a file a node opened itself (a GPIO line request).
    public func allocateDescriptor(node: EmulatedNode, handle: Int) -> Int32 {
        let descriptor = nextDescriptor
        nextDescriptor += 1
        files[descriptor] = (node, handle)
        return descriptor
    }

    /// Runs `action` when the clock reaches `time` (a camera plugged back in, a sensor edge).
    public func schedule(at time: UInt64, _ action: @escaping () -> Void) {
        scheduled.append((time, action))
        scheduled.sort { $0.time < $1.time }
    }

    private var scheduled: [(time: UInt64, action: () -> Void)] = []

    /// Moves the clock forward to `time`, letting every node catch up and running the
    /// scheduled actions due on the way.
    public func advance(to time: UInt64) {
        while let first = scheduled.first, first.time <= time {
            scheduled.removeFirst()
            moveNodes(to: first.time)
            first.action()
        }
        moveNodes(to: time)
    }

    private func moveNodes(to time: UInt64) {
        guard time > now else { return }
        var seen = Set<ObjectIdentifier>()
        let all = Array(nodes.values) + files.values.map(\.node)
        for node in all where seen.insert(ObjectIdentifier(node)).inserted {
            node.advance(to: time)
        }
        now = time
    }

    /// Moves the clock forward by `nanoseconds`.
    public func advance(by nanoseconds: UInt64) {
        advance(to: now + nanoseconds)
    }

    private func count(_ call: String) {
        callCounts[call, default: 0] += 1
        advance(by: callCost)
    }

    private func file(_ descriptor: Int32) throws(Errno) -> (node: EmulatedNode, handle: Int) {
        guard let file = files[descriptor] else { throw Errno.badFile }
        return file
    }

    public func open(_ path: String, flags: OpenFlags) throws(Errno) -> Int32 {
        count("open")
        guard let node = nodes[path] else { throw Errno.noEntry }
        let handle = try node.open(kernel: self)
        return allocateDescriptor(node: node, handle: handle)
    }

    public func close(_ descriptor: Int32) {
        count("close")
        guard let file = files.removeValue(forKey: descriptor) else { return }
        file.node.close(handle: file.handle)
    }

    public func ioctl(_ descriptor: Int32, _ request: UInt, _ argument: UnsafeMutableRawPointer)
        throws(Errno) {
        count("ioctl")
        let file = try file(descriptor)
        try file.node.ioctl(handle: file.handle, request: request, argument: argument, kernel: self)
    }

    public func mmap(length: Int, descriptor: Int32, offset: Int) throws(Errno)
        -> UnsafeMutableRawPointer {
        count("mmap")
        let file = try file(descriptor)
        return try file.node.mmap(handle: file.handle, length: length, offset: offset)
    }

    public func munmap(_ address: UnsafeMutableRawPointer, length: Int) {
        count("munmap")
        var seen = Set<ObjectIdentifier>()
        let all = Array(nodes.values) + files.values.map(\.node)
        for node in all where seen.insert(ObjectIdentifier(node)).inserted {
            node.munmap(address, length: length)
        }
    }

    /// Returns at once if events are pending; otherwise lets time run to the node's next event
    /// or to the timeout, whichever is first.
    public func poll(_ descriptor: Int32, events: PollEvents, timeoutMilliseconds: Int32)
        throws(Errno) -> PollEvents {
        count("poll")
        let file = try file(descriptor)
        let deadline = timeoutMilliseconds < 0 ? UInt64.max
            : now + UInt64(timeoutMilliseconds) * 1_000_000
        while true {
            let ready = file.node.poll(handle: file.handle)
                .intersection(events.union([.error, .hangUp, .invalid]))
            if !ready.isEmpty { return ready }
            guard let next = file.node.nextEventTime(after: now), next <= deadline else {
                if deadline != UInt64.max { advance(to: deadline) }
                return []
            }
            advance(to: max(next, now + 1))
        }
    }

    public func read(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(Errno)
        -> Int {
        count("read")
        let file = try file(descriptor)
        return try file.node.read(handle: file.handle, into: buffer)
    }

    public func monotonicNanoseconds() -> UInt64 {
        now
    }

    public func sleep(nanoseconds: UInt64) {
        count("sleep")
        advance(by: nanoseconds)
    }
}
