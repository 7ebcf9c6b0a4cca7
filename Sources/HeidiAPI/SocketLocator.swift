import HeidiCore

/// Where the control socket is: `--socket`, `$HEIDI_SOCKET`, else the socket of the daemon that holds the config's
/// state directory (recorded in its `heidid.lock`, so a daemon started with `--runtime-dir` or `--socket` is found
/// through the config alone), else the config's `control.socket` or `<runtime_dir>/heidi.sock` (the same rules the
/// daemon uses).
public enum SocketLocator {
    public static func resolve(explicit: String?, configPath: String?, environment: [String: String]) -> String {
        if let named = named(explicit: explicit, environmentSocket: environment["HEIDI_SOCKET"]) { return named }
        if let config = try? ConfigLoader.load(path: configPath, environment: environment) { return socket(of: config) }
        return DefaultDirectories(environment: environment).runtimeDir + "/heidi.sock"
    }

    /// The socket named outright, before any configuration is read: `explicit` (`--socket`), else
    /// `environmentSocket` (`$HEIDI_SOCKET`); nil when neither is set, an empty value counting as unset.
    public static func named(explicit: String?, environmentSocket: String?) -> String? {
        if let explicit, !explicit.isEmpty { return explicit }
        if let environmentSocket, !environmentSocket.isEmpty { return environmentSocket }
        return nil
    }

    /// The socket the running daemon of `config`'s state directory serves, when its lock file names one that exists
    /// and the daemon is alive; otherwise the socket the config itself names.
    public static func socket(of config: HeidiConfig) -> String {
        guard let holder = StateDirectoryLockInfo.read(path: config.lockPath), let recorded = holder.socket,
            recorded != config.socketPath, holder.processExists, FileSystem.exists(recorded)
        else { return config.socketPath }
        return recorded
    }
}
