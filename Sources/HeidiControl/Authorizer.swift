import HeidiCore

#if canImport(Glibc)
import Glibc
#endif

/// Decides who may change the pipeline (POST): root, the daemon's own user, and members of the control group.
/// Everyone who can open the socket may read (GET).
public struct Authorizer: Sendable {
    public let daemonUID: UInt32
    /// `control.group` as configured (nil: none), and its gid when such a group exists on this host.
    public let groupName: String?
    public let groupID: UInt32?
    /// The control socket, named in refusals.
    public let socketPath: String

    public init(daemonUID: UInt32 = getuid(), groupName: String?, socketPath: String = "the control socket") {
        self.init(
            daemonUID: daemonUID,
            groupName: groupName,
            groupID: groupName.flatMap(Self.lookupGroup),
            socketPath: socketPath
        )
    }

    /// With the gid already looked up (nil: the configured group does not exist).
    public init(daemonUID: UInt32 = getuid(), groupName: String?, groupID: UInt32?, socketPath: String) {
        self.daemonUID = daemonUID
        self.groupName = groupName
        self.groupID = groupName == nil ? nil : groupID
        self.socketPath = socketPath
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

    /// Why a peer may not control, for the 403 message: the socket, the configured group and whether it exists.
    public func refusal(for peer: PeerCredentials) -> String {
        let who = "uid \(peer.uid) may read but not control heidid on \(socketPath)"
        let owners = "root and uid \(daemonUID)"
        guard let groupName else {
            return
                "\(who): no control group is configured (control.group), so only \(owners) may; set control.group and "
                + "restart heidid to let a group control it"
        }
        guard let groupID else {
            return
                "\(who): control.group is '\(groupName)', but no group '\(groupName)' exists on this host, so only \(owners) "
                + "may; create it (groupadd \(groupName)), add the user (usermod -aG \(groupName) USER) and restart heidid"
        }
        return "\(who): control.group is '\(groupName)' (gid \(groupID)), and uid \(peer.uid) is not in it: join it "
            + "(usermod -aG \(groupName) USER, then log in again) or run as root"
    }

    /// The `Groups:` line of `/proc/PID/status`.
    static func supplementaryGroups(of pid: Int32) -> [UInt32] {
        guard let bytes = try? FileSystem.read("/proc/\(pid)/status") else { return [] }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Groups:") }) else { return [] }
        return line.dropFirst("Groups:".count).split(whereSeparator: { $0 == " " || $0 == "\t" }).compactMap {
            UInt32($0)
        }
    }
}
