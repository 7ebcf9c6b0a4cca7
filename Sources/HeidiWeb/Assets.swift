/// The dashboard's files, compiled in by SwiftPM from Assets/ (`.embedInCode` in Package.swift: `PackageResources`),
/// so the binary serves them with no file next to it and nothing to keep in step by hand.
public enum Assets {
    public enum File: CaseIterable, Sendable {
        case page, script, style, icon, fleetPage, fleetScript, fleetStyle

        public var fileName: String {
            switch self {
            case .page: return "index.html"
            case .script: return "app.js"
            case .style: return "app.css"
            case .icon: return "favicon.svg"
            case .fleetPage: return "fleet.html"
            case .fleetScript: return "fleet.js"
            case .fleetStyle: return "fleet.css"
            }
        }

        var contentType: String {
            switch self {
            case .page, .fleetPage: return "text/html; charset=utf-8"
            case .script, .fleetScript: return "text/javascript; charset=utf-8"
            case .style, .fleetStyle: return "text/css; charset=utf-8"
            case .icon: return "image/svg+xml"
            }
        }
    }

    /// The file's bytes, as they are in Assets/.
    public static func bytes(_ file: File) -> [UInt8] {
        switch file {
        case .page: return PackageResources.index_html
        case .script: return PackageResources.app_js
        case .style: return PackageResources.app_css
        case .icon: return PackageResources.favicon_svg
        case .fleetPage: return PackageResources.fleet_html
        case .fleetScript: return PackageResources.fleet_js
        case .fleetStyle: return PackageResources.fleet_css
        }
    }

    public static func text(_ file: File) -> String { String(decoding: bytes(file), as: UTF8.self) }

    static func response(_ file: File) -> WebResponse {
        WebResponse(status: 200, headers: [("Content-Type", file.contentType)], body: .bytes(bytes(file)))
    }
}
