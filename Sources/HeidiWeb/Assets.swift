/// The dashboard's files, compiled in by SwiftPM from Assets/ (`.embedInCode` in Package.swift: `PackageResources`),
/// so the binary serves them with no file next to it and nothing to keep in step by hand.
public enum Assets {
    public enum File: CaseIterable, Sendable {
        case page, script, style, icon

        public var fileName: String {
            switch self {
            case .page: return "index.html"
            case .script: return "app.js"
            case .style: return "app.css"
            case .icon: return "favicon.svg"
            }
        }

        var contentType: String {
            switch self {
            case .page: return "text/html; charset=utf-8"
            case .script: return "text/javascript; charset=utf-8"
            case .style: return "text/css; charset=utf-8"
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
        }
    }

    public static func text(_ file: File) -> String { String(decoding: bytes(file), as: UTF8.self) }

    static func response(_ file: File) -> WebResponse {
        WebResponse(status: 200, headers: [("Content-Type", file.contentType)], body: .bytes(bytes(file)))
    }
}
