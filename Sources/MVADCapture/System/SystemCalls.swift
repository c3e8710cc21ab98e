// SystemCalls: the one thin layer every camera and GPIO system call goes through (open, close,
// ioctl, mmap, munmap, poll, read, and the monotonic clock), so tests can put emulated devices
// behind it.

/// An errno value from a failed system call.
public struct Errno: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    public let code: Int32
    public init(_ code: Int32) { self.code = code }

    public static let noEntry = Errno(2)             // ENOENT
    public static let interrupted = Errno(4)         // EINTR
    public static let io = Errno(5)                  // EIO
    public static let badFile = Errno(9)             // EBADF
    public static let again = Errno(11)              // EAGAIN
    public static let busy = Errno(16)               // EBUSY
    public static let noDevice = Errno(19)           // ENODEV
    public static let invalid = Errno(22)            // EINVAL
    public static let notTTY = Errno(25)             // ENOTTY: ioctl not supported
    public static let range = Errno(34)              // ERANGE
    public static let timedOut = Errno(110)          // ETIMEDOUT
    public static let accessDenied = Errno(13)       // EACCES
    public static let notPermitted = Errno(1)        // EPERM
    public static let outOfMemory = Errno(12)        // ENOMEM
    public static let noSuchDeviceOrAddress = Errno(6) // ENXIO

    private static let names: [Int32: String] = [
        1: "EPERM", 2: "ENOENT", 4: "EINTR", 5: "EIO", 6: "ENXIO", 9: "EBADF", 11: "EAGAIN",
        12: "ENOMEM",
        13: "EACCES", 16: "EBUSY", 19: "ENODEV", 22: "EINVAL", 25: "ENOTTY", 34: "ERANGE",
        110: "ETIMEDOUT",
    ]

    /// The symbolic name ("ENODEV"), or "errno N" for others.
    public var name: String { Errno.names[code] ?? "errno \(code)" }
    public var description: String { name }

    /// True for the errors that mean the device node is gone or broken (unplugged camera).
    public var meansDeviceGone: Bool {
        self == .noDevice || self == .io || self == .noSuchDeviceOrAddress
    }
}

/// Flags for `SystemCalls.open`, as in fcntl.h.
public struct OpenFlags: OptionSet, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public static let readWrite = OpenFlags([])                       // O_RDWR is added always
    public static let nonBlocking = OpenFlags(rawValue: 0o4000)        // O_NONBLOCK
    public static let closeOnExec = OpenFlags(rawValue: 0o2000000)     // O_CLOEXEC
}

/// Poll event bits, as in poll.h.
public struct PollEvents: OptionSet, Sendable, Hashable {
    public let rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }
    public static let input = PollEvents(rawValue: 0x001)       // POLLIN
    public static let priority = PollEvents(rawValue: 0x002)    // POLLPRI
    public static let output = PollEvents(rawValue: 0x004)      // POLLOUT
    public static let error = PollEvents(rawValue: 0x008)       // POLLERR
    public static let hangUp = PollEvents(rawValue: 0x010)      // POLLHUP
    public static let invalid = PollEvents(rawValue: 0x020)     // POLLNVAL
    public static let readNormal = PollEvents(rawValue: 0x040)  // POLLRDNORM
}

/// The system calls of the capture layer. `LinuxSystemCalls` calls Glibc; the emulated kernel
/// of `MVADCaptureEmulation` answers them with emulated V4L2 and GPIO devices. Times are
/// CLOCK_MONOTONIC nanoseconds, the clock V4L2 timestamps buffers with.
public protocol SystemCalls: AnyObject {
    /// open(path, O_RDWR | flags); returns the file descriptor.
    func open(_ path: String, flags: OpenFlags) throws(Errno) -> Int32
    func close(_ descriptor: Int32)
    /// ioctl(fd, request, argument): the argument points at the request's uAPI struct.
    func ioctl(_ descriptor: Int32, _ request: UInt, _ argument: UnsafeMutableRawPointer) throws(Errno)
    /// mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset).
    func mmap(length: Int, descriptor: Int32, offset: Int) throws(Errno) -> UnsafeMutableRawPointer
    func munmap(_ address: UnsafeMutableRawPointer, length: Int)
    /// poll on one descriptor; returns the events that occurred, empty on timeout.
    func poll(_ descriptor: Int32, events: PollEvents, timeoutMilliseconds: Int32) throws(Errno)
        -> PollEvents
    /// read(fd, buffer, count); returns the number of bytes read.
    func read(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int
    /// CLOCK_MONOTONIC now, in nanoseconds.
    func monotonicNanoseconds() -> UInt64
    /// Sleeps (the emulation advances its clock instead).
    func sleep(nanoseconds: UInt64)
}

extension SystemCalls {
    /// ioctl on a uAPI struct value passed in-out.
    func ioctl<T>(_ descriptor: Int32, _ request: UInt, _ value: inout T) throws(Errno) {
        try withUnsafeMutablePointer(to: &value) { (pointer) throws(Errno) in
            try self.ioctl(descriptor, request, UnsafeMutableRawPointer(pointer))
        }
    }
}
