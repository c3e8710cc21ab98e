// CameraConnection: keeps a camera session open across disappearances: a camera that is gone
// (ENODEV, EIO, timeouts) is closed and opened again with exponential backoff, without
// restarting the process.

/// One failed attempt to reopen, for the record.
public struct ReopenAttempt: Codable, Equatable, Sendable {
    public let attempt: Int
    public let atNanoseconds: UInt64
    public let error: String

    enum CodingKeys: String, CodingKey {
        case attempt, error
        case atNanoseconds = "at_ns"
    }
}

/// A camera that can be reopened.
public final class CameraConnection {
    public let profile: CameraProfile
    public let reopen: ReopenProfile
    let system: any SystemCalls
    public private(set) var session: CameraSession?
    /// Every failed open since the connection was made, oldest first.
    public private(set) var failedAttempts: [ReopenAttempt] = []
    /// How often the camera was reopened after being lost.
    public private(set) var reopenCount = 0

    public init(profile: CameraProfile, reopen: ReopenProfile, system: any SystemCalls) {
        self.profile = profile
        self.reopen = reopen
        self.system = system
    }

    /// The open session, opening the camera (once, no retries) if needed.
    public func current() throws(CameraError) -> CameraSession {
        if let session { return session }
        let opened = try CameraSession(profile: profile, system: system)
        session = opened
        return opened
    }

    /// Closes the lost camera and opens it again, waiting initial_backoff_ms before the first
    /// attempt and doubling the wait (up to max_backoff_ms) after each failure. Throws the last
    /// error once `attempts` attempts failed.
    public func reconnect() throws(CameraError) -> CameraSession {
        session?.close()
        session = nil
        var delay = UInt64(max(0, reopen.initialBackoffMilliseconds)) * 1_000_000
        let ceiling = UInt64(max(0, reopen.maximumBackoffMilliseconds)) * 1_000_000
        var lastError = CameraError.openFailed(path: profile.device, errno: .noEntry)
        for attempt in 1...max(1, reopen.attempts) {
            system.sleep(nanoseconds: delay)
            do {
                let opened = try CameraSession(profile: profile, system: system)
                session = opened
                reopenCount += 1
                return opened
            } catch {
                lastError = error
                failedAttempts.append(ReopenAttempt(attempt: attempt,
                                                    atNanoseconds: system.monotonicNanoseconds(),
                                                    error: error.description))
            }
            delay = min(ceiling, max(delay * 2, 1_000_000))
        }
        throw lastError
    }

    public func close() {
        session?.close()
        session = nil
    }
}
