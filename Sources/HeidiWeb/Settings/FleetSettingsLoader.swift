import HeidiCore
import HeidiFleet
import HeidiYAML

#if canImport(Glibc)
import Glibc
#endif

/// The fleet keys of the `web:` section (docs/fleet.md): `web.dashboard:` on a worker, `web.fleet:` on the dashboard.
struct FleetSection: Equatable {
    var url: String?
    var tokenFile: String?
    var name: String?
    var pin: String?
    var caFile: String?
    var allowActions: Bool?
    var journal: String?
    var heartbeat: Double?
    var fleetDir: String?
    var workersFile: String?
    var staleAfter: Double?
    var hasFleet = false

    static let dashboardKeys = [
        "url", "token_file", "name", "pin_sha256", "ca_file", "allow_actions", "journal", "heartbeat",
    ]
    static let fleetKeys = ["dir", "workers_file", "stale_after"]

    /// Reads `web.dashboard:`.
    mutating func readDashboard(
        _ node: YAMLNode,
        _ fields: YAMLFields<WebSettingsError>,
        file: (YAMLNode, String) throws(WebSettingsError) -> String
    )
        throws(WebSettingsError)
    {
        for (key, value, name) in try fields.mapping(node, "web.dashboard") {
            switch name {
            case "url": url = try fields.string(value, key)
            case "token_file": tokenFile = try file(value, key)
            case "name": self.name = try fields.string(value, key)
            case "pin_sha256": pin = try fields.string(value, key)
            case "ca_file": caFile = try file(value, key)
            case "allow_actions": allowActions = try fields.boolean(value, key)
            case "journal": journal = try file(value, key)
            case "heartbeat": heartbeat = try fields.number(value, key, range: 0.2...60)
            default: throw fields.fail(value, key, "unknown key (known: \(Self.dashboardKeys.joined(separator: ", ")))")
            }
        }
    }

    /// Reads `web.fleet:`.
    mutating func readFleet(
        _ node: YAMLNode,
        _ fields: YAMLFields<WebSettingsError>,
        file: (YAMLNode, String) throws(WebSettingsError) -> String
    )
        throws(WebSettingsError)
    {
        hasFleet = true
        for (key, value, name) in try fields.mapping(node, "web.fleet") {
            switch name {
            case "dir": fleetDir = try file(value, key)
            case "workers_file": workersFile = try file(value, key)
            case "stale_after": staleAfter = try fields.number(value, key, range: 1...3600)
            default: throw fields.fail(value, key, "unknown key (known: \(Self.fleetKeys.joined(separator: ", ")))")
            }
        }
    }
}

/// Turns the fleet keys and the environment (`DASHBOARD_HOST`, `DASHBOARD_PIN_SHA256`, `DASHBOARD_CA_FILE`,
/// `DASHBOARD_TOKEN_FILE`, `HEIDI_WORKER_NAME`, `TELEMETRY_PASS`, `HEIDI_FLEET_DIR`) into the shipper's and the
/// store's settings.
enum FleetSettingsLoader {
    /// The worker's shipper, when `DASHBOARD_HOST` or `web.dashboard.url` is set.
    static func dashboard(
        _ section: FleetSection,
        configPath: String?,
        environment: [String: String]
    ) throws(WebSettingsError) -> ShipperSettings? {
        let fromEnvironment = environment["DASHBOARD_HOST"].flatMap { $0.isEmpty ? nil : $0 }
        guard let url = fromEnvironment ?? section.url else { return nil }
        let urlKey = fromEnvironment != nil ? "DASHBOARD_HOST" : "web.dashboard.url"
        var trust = FleetEndpoint.Trust.system
        do throws(FleetConfigError) {
            if let pin = environment["DASHBOARD_PIN_SHA256"] ?? section.pin {
                trust = .pinned(
                    try FleetEndpoint.pin(
                        pin,
                        key: environment["DASHBOARD_PIN_SHA256"] != nil
                            ? "DASHBOARD_PIN_SHA256" : "web.dashboard.pin_sha256"
                    )
                )
            } else if let ca = environment["DASHBOARD_CA_FILE"] ?? section.caFile {
                guard FileSystem.exists(ca) else {
                    throw FleetConfigError(key: "web.dashboard.ca_file", message: "\(ca) does not exist")
                }
                trust = .authority(file: ca)
            }
            let endpoint = try FleetEndpoint.parse(url, trust: trust, key: urlKey)
            let authorization: String
            if let tokenFile = environment["DASHBOARD_TOKEN_FILE"] ?? section.tokenFile {
                let token = try secret(tokenFile, key: "web.dashboard.token_file")
                authorization = "Bearer " + token
            } else if let shared = environment["TELEMETRY_PASS"], !shared.isEmpty {
                let name = environment["HEIDI_WORKER_NAME"] ?? section.name ?? hostName()
                guard FleetWire.isValidName(name) else {
                    throw FleetConfigError(
                        key: "web.dashboard.name",
                        message: "\(name) is not a worker name (A-Z a-z 0-9 . _ -, at most 64)"
                    )
                }
                authorization = "Basic " + Base64.encode(Array("\(name):\(shared)".utf8))
            } else {
                throw FleetConfigError(
                    key: "web.dashboard.token_file",
                    message: "a worker needs its token (token_file, DASHBOARD_TOKEN_FILE) or TELEMETRY_PASS"
                )
            }
            let journal: String
            if let path = section.journal {
                journal = path
            } else {
                do { journal = try ConfigLoader.load(path: configPath, environment: environment).journalPath } catch {
                    throw FleetConfigError(
                        key: "web.dashboard.journal",
                        message: "cannot tell where the journal is from the config: \(error)"
                    )
                }
            }
            return ShipperSettings(
                endpoint: endpoint,
                authorization: authorization,
                journalPath: journal,
                allowActions: section.allowActions ?? false,
                heartbeat: section.heartbeat ?? 2
            )
        } catch {
            throw .invalid(key: error.key, message: error.message)
        }
    }

    /// The dashboard's store, when `web.fleet:` is present or `HEIDI_FLEET_DIR` is set.
    static func fleet(
        _ section: FleetSection,
        configPath: String?,
        environment: [String: String]
    ) throws(WebSettingsError) -> FleetStore.Settings? {
        let directory: String
        if let dir = environment["HEIDI_FLEET_DIR"].flatMap({ $0.isEmpty ? nil : $0 }) ?? section.fleetDir {
            directory = dir
        } else if section.hasFleet {
            do {
                directory = try ConfigLoader.load(path: configPath, environment: environment).stateDir + "/fleet"
            } catch {
                throw .invalid(
                    key: "web.fleet.dir",
                    message: "cannot tell the state directory from the config: \(error)"
                )
            }
        } else {
            return nil
        }
        if let file = section.workersFile, !FileSystem.exists(file) {
            throw .unreadable(path: file, key: "web.fleet.workers_file", reason: "no such file")
        }
        let shared = environment["TELEMETRY_PASS"].flatMap { $0.isEmpty ? nil : $0 }
        if section.workersFile == nil && shared == nil {
            throw .invalid(
                key: "web.fleet.workers_file",
                message: "no way for workers to authenticate: set workers_file (NAME TOKEN lines) or TELEMETRY_PASS"
            )
        }
        return FleetStore.Settings(
            directory: directory,
            staleAfter: section.staleAfter ?? 6,
            workersFile: section.workersFile,
            sharedSecret: shared
        )
    }

    static func secret(_ path: String, key: String) throws(FleetConfigError) -> String {
        do { return try WebSettingsLoader.secret(path, key: key) } catch {
            throw FleetConfigError(key: key, message: "\(error)")
        }
    }

    static func hostName() -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let result = buffer.withUnsafeMutableBytes { raw -> Int32 in
            guard let base = raw.baseAddress else { return -1 }
            return gethostname(base.assumingMemoryBound(to: CChar.self), raw.count - 1)
        }
        guard result == 0 else { return "worker" }
        return String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
    }
}
