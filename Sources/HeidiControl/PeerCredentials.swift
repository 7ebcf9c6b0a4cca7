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
