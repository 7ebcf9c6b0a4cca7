import HeidiCore
import NIOConcurrencyHelpers

/// A browser session: what the cookie stands for.
public struct Session: Sendable, Equatable {
    public var id: String
    public var role: Role
    /// Sent with every POST in `X-CSRF-Token`.
    public var csrfToken: String
    public var createdAt: Double
    public var lastSeen: Double
}

/// The logged-in browser sessions, in memory (a restart logs everyone out). Bounded: the least recently used session
/// is dropped beyond `capacity`; idle and old sessions expire.
public final class SessionStore: Sendable {
    public static let cookieName = "heidi_session"
    public let capacity: Int
    public let idleTimeout: Double
    public let maximumAge: Double
    private let clock: @Sendable () -> Double
    private let sessions = NIOLockedValueBox<[String: Session]>([:])

    public init(
        capacity: Int = 256,
        idleTimeout: Double = 8 * 3600,
        maximumAge: Double = 24 * 3600,
        clock: @escaping @Sendable () -> Double
    ) {
        self.capacity = capacity
        self.idleTimeout = idleTimeout
        self.maximumAge = maximumAge
        self.clock = clock
    }

    public func create(role: Role) -> Session {
        let now = clock()
        let session = Session(
            id: RandomToken.make(),
            role: role,
            csrfToken: RandomToken.make(),
            createdAt: now,
            lastSeen: now
        )
        sessions.withLockedValue { table in
            table = table.filter { !expired($0.value, now) }
            while table.count >= capacity, let oldest = table.min(by: { $0.value.lastSeen < $1.value.lastSeen }) {
                table[oldest.key] = nil
            }
            table[session.id] = session
        }
        return session
    }

    /// The live session for a cookie value (compared in constant time), refreshed; nil when unknown or expired.
    public func lookup(_ id: String) -> Session? {
        let now = clock()
        return sessions.withLockedValue { table in
            guard let key = table.keys.first(where: { ConstantTime.equals(id, $0) }), var session = table[key] else {
                return nil
            }
            if expired(session, now) {
                table[key] = nil
                return nil
            }
            session.lastSeen = now
            table[key] = session
            return session
        }
    }

    public func remove(_ id: String) {
        sessions.withLockedValue { table in table[id] = nil }
    }

    public var count: Int { sessions.withLockedValue { $0.count } }

    private func expired(_ session: Session, _ now: Double) -> Bool {
        now - session.lastSeen > idleTimeout || now - session.createdAt > maximumAge
    }
}
