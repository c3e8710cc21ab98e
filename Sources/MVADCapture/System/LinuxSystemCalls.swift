// LinuxSystemCalls: the real implementation of SystemCalls, straight onto Glibc, retrying calls
// interrupted by a signal (EINTR).

import CLinuxUAPI
import Glibc

/// The kernel's system calls.
public final class LinuxSystemCalls: SystemCalls {
    public init() {}

    public func open(_ path: String, flags: OpenFlags) throws(Errno) -> Int32 {
        while true {
            let descriptor = Glibc.open(path, O_RDWR | flags.rawValue)
            if descriptor >= 0 { return descriptor }
            if errno != EINTR { throw Errno(errno) }
        }
    }

    public func close(_ descriptor: Int32) {
        _ = Glibc.close(descriptor)
    }

    public func ioctl(_ descriptor: Int32, _ request: UInt, _ argument: UnsafeMutableRawPointer)
        throws(Errno) {
        while mvad_ioctl(descriptor, request, argument) < 0 {
            if errno != EINTR { throw Errno(errno) }
        }
    }

    public func mmap(length: Int, descriptor: Int32, offset: Int) throws(Errno)
        -> UnsafeMutableRawPointer {
        let address = Glibc.mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor,
                                 off_t(offset))
        guard let address, address != MAP_FAILED else { throw Errno(errno) }
        return address
    }

    public func munmap(_ address: UnsafeMutableRawPointer, length: Int) {
        _ = Glibc.munmap(address, length)
    }

    public func poll(_ descriptor: Int32, events: PollEvents, timeoutMilliseconds: Int32)
        throws(Errno) -> PollEvents {
        var entry = pollfd(fd: descriptor, events: events.rawValue, revents: 0)
        while true {
            let count = Glibc.poll(&entry, 1, timeoutMilliseconds)
            if count > 0 { return PollEvents(rawValue: entry.revents) }
            if count == 0 { return [] }
            if errno != EINTR { throw Errno(errno) }
        }
    }

    public func read(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(Errno)
        -> Int {
        while true {
            let count = Glibc.read(descriptor, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            if errno != EINTR { throw Errno(errno) }
        }
    }

    public func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    public func sleep(nanoseconds: UInt64) {
        var request = timespec(tv_sec: Int(nanoseconds / 1_000_000_000),
                               tv_nsec: Int(nanoseconds % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }
}
