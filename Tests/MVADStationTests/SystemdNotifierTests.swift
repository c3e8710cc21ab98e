// sd_notify: the datagrams arrive on a test socket bound where NOTIFY_SOCKET points; watchdog
// pings at half of WATCHDOG_USEC.

import Foundation
import MVADStation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A datagram socket bound to a path (or an abstract name), as systemd's notify socket is.
final class NotifySocket {
    let descriptor: Int32
    init(path: String) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard descriptor >= 0, bound == 0 else { throw XCTSkip("cannot bind a unix socket here") }
    }
    deinit { close(descriptor) }

    /// Every datagram waiting now.
    func receive() -> [String] {
        var messages: [String] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if count <= 0 { return messages }
            messages.append(String(decoding: buffer.prefix(count), as: UTF8.self))
        }
    }
}

final class SystemdNotifierTests: XCTestCase {
    func testNoNotifySocketMeansNoNotifier() throws {
        XCTAssertNil(try SystemdNotifier(environment: [:]))
    }

    func testReadyWatchdogAndStoppingArriveOnThePathSocket() throws {
        let path = try temporaryFolder().appendingPathComponent("notify").path
        let listener = try NotifySocket(path: path)
        let environment = ["NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000",
                           "WATCHDOG_PID": "\(getpid())"]
        guard let notifier = try SystemdNotifier(environment: environment) else {
            return XCTFail("NOTIFY_SOCKET was set")
        }
        XCTAssertEqual(notifier.watchdogPeriodNanoseconds, 1_000_000_000)
        try notifier.ready(status: "waiting")
        // Pings at 1 s intervals (half of 2 s): at 5.0 s, not at 5.5 s, again at 6.0 s.
        try notifier.pingIfDue(now: 5_000_000_000)
        try notifier.pingIfDue(now: 5_500_000_000)
        try notifier.pingIfDue(now: 6_000_000_000)
        try notifier.stopping()
        XCTAssertEqual(listener.receive(), ["READY=1\nSTATUS=waiting", "WATCHDOG=1", "WATCHDOG=1",
                                            "STOPPING=1"])
    }

    func testAbstractSocketAndWatchdogForAnotherProcessIgnored() throws {
        let name = "@mvad-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let listener = try NotifySocket(path: name)
        let environment = ["NOTIFY_SOCKET": name, "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "1"]
        guard let notifier = try SystemdNotifier(environment: environment) else {
            return XCTFail("NOTIFY_SOCKET was set")
        }
        XCTAssertNil(notifier.watchdogPeriodNanoseconds)
        try notifier.pingIfDue(now: 9_000_000_000)
        try notifier.send("STATUS=abstract")
        XCTAssertEqual(listener.receive(), ["STATUS=abstract"])
    }
}
