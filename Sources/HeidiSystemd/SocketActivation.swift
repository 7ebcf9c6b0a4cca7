import CSystemd

#if canImport(Glibc)
import Glibc
#endif

/// Socket activation: listening sockets passed by systemd (`LISTEN_FDS`, `LISTEN_PID`).
public enum SocketActivation {
    /// The first passed descriptor (fd 3), or nil when the daemon was not socket-activated.
    /// `LISTEN_*` are removed from the environment so children never see them.
    public static func takeListeningSocket() -> Int32? {
        let count = sd_listen_fds(1)
        guard count >= 1 else { return nil }
        return SD_LISTEN_FDS_START
    }
}
