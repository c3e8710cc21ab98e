// SystemdNotifier: the sd_notify protocol written out: datagrams such as "READY=1",
// "WATCHDOG=1" and "STOPPING=1" sent to the AF_UNIX socket named by NOTIFY_SOCKET (a path, or
// an abstract name starting with '@'); watchdog pings at half of WATCHDOG_USEC.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A failed notification.
public struct NotifyError: Error, CustomStringConvertible {
    public let socket: String
    public let call: String
    public let errno: Int32
    public var description: String {
        "systemd notify socket '\(socket)': \(call) failed with errno \(errno)"
    }
}

/// Talks to the service manager; absent when NOTIFY_SOCKET is not set.
public final class SystemdNotifier {
    public let socketPath: String
    /// Half of WATCHDOG_USEC, in nanoseconds; nil without a watchdog for this process.
    public let watchdogPeriodNanoseconds: UInt64?
    private let descriptor: Int32
    private var lastPing: UInt64 = 0

    /// nil when `environment` has no NOTIFY_SOCKET. WATCHDOG_USEC counts only when
    /// WATCHDOG_PID is absent or names this process.
    public init?(environment: [String: String]) throws(NotifyError) {
        guard let path = environment["NOTIFY_SOCKET"], !path.isEmpty else { return nil }
        socketPath = path
        let pidMatches = environment["WATCHDOG_PID"].map { Int32($0) == getpid() } ?? true
        if pidMatches, let usec = environment["WATCHDOG_USEC"].flatMap(UInt64.init), usec > 0 {
            watchdogPeriodNanoseconds = usec * 1000 / 2
        } else {
            watchdogPeriodNanoseconds = nil
        }
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw NotifyError(socket: path, call: "socket", errno: errno) }
    }

    deinit {
        close(descriptor)
    }

    /// Sends one datagram of newline-separated assignments.
    public func send(_ state: String) throws(NotifyError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(socketPath.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }          // abstract namespace
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else {
            throw NotifyError(socket: socketPath, call: "socket path longer than \(capacity - 1)",
                              errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let message = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                sendto(descriptor, message, message.count, Int32(MSG_NOSIGNAL), socketAddress,
                       length)
            }
        }
        guard sent == message.count else {
            throw NotifyError(socket: socketPath, call: "sendto", errno: errno)
        }
    }

    /// READY=1 with a status line.
    public func ready(status: String) throws(NotifyError) {
        try send("READY=1\nSTATUS=\(status)")
    }

    public func stopping() throws(NotifyError) {
        try send("STOPPING=1")
    }

    /// WATCHDOG=1 if half the watchdog interval has passed since the last ping.
    public func pingIfDue(now: UInt64) throws(NotifyError) {
        guard let period = watchdogPeriodNanoseconds, now >= lastPing + period || lastPing == 0
        else { return }
        lastPing = now
        try send("WATCHDOG=1")
    }
}
