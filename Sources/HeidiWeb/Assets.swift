/// The dashboard's files, compiled in (Assets+Embedded.swift, generated from Assets/ by contrib/web/embed-assets.py).
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

    public static func text(_ file: File) -> String {
        switch file {
        case .page: return pageText
        case .script: return scriptText
        case .style: return styleText
        case .icon: return iconText
        }
    }

    static func response(_ file: File) -> WebResponse {
        WebResponse(status: 200, headers: [("Content-Type", file.contentType)], body: .bytes(Array((text(file) + "\n").utf8)))
    }
}
