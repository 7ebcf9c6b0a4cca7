#if canImport(Glibc)
import Glibc
#endif
import HeidiCore

/// The connecting process's identity from `SO_PEERCRED`, as the kernel vouches for it.
public struct PeerCredentials: Sendable, Equatable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }
}

/// Memory layout of `struct ucred` (pid_t, uid_t, gid_t), which Glibc only exposes under `_GNU_SOURCE`.
struct UCred: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

/// Decides who may change the pipeline (POST): root, the daemon's own user, and members of the control group.
/// Everyone who can open the socket may read (GET).
public struct Authorizer: Sendable {
    public let daemonUID: UInt32
    public let groupID: UInt32?
    public let groupName: String?

    public init(daemonUID: UInt32 = getuid(), groupName: String?) {
        self.daemonUID = daemonUID
        self.groupName = groupName
        self.groupID = groupName.flatMap(Self.lookupGroup)
    }

    public static func lookupGroup(_ name: String) -> UInt32? {
        guard let entry = getgrnam(name) else { return nil }
        return entry.pointee.gr_gid
    }

    public func mayControl(_ peer: PeerCredentials) -> Bool {
        if peer.uid == 0 || peer.uid == daemonUID { return true }
        guard let groupID else { return false }
        if peer.gid == groupID { return true }
        return Self.supplementaryGroups(of: peer.pid).contains(groupID)
    }

    /// Why a peer may not control, for the 403 message.
    public func refusal(for peer: PeerCredentials) -> String {
        if let groupName {
            return "uid \(peer.uid) may read but not control heidid: join group '\(groupName)' or run as root"
        }
        return "uid \(peer.uid) may read but not control heidid: only root and uid \(daemonUID) may (no control group is configured)"
    }

    /// The `Groups:` line of `/proc/PID/status`.
    static func supplementaryGroups(of pid: Int32) -> [UInt32] {
        guard let bytes = try? FileSystem.read("/proc/\(pid)/status") else { return [] }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Groups:") }) else { return [] }
        return line.dropFirst("Groups:".count).split(whereSeparator: { $0 == " " || $0 == "\t" }).compactMap { UInt32($0) }
    }
}
