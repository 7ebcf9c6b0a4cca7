import HeidiAPI
import HeidiCore

/// A request as heidi-web's policy and router see it: no NIO types, so both are tested without a network.
public struct WebRequest: Sendable {
    public var method: String
    /// The path without the query.
    public var path: String
    public var query: [String: String]
    /// Header names lowercased; repeated headers keep every value in order.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// The peer's IP address (for rate limiting and the journal's "from where").
    public var remoteAddress: String
    /// True when the connection is TLS.
    public var isTLS: Bool

    public init(
        method: String,
        uri: String,
        headers: [(String, String)] = [],
        body: [UInt8] = [],
        remoteAddress: String = "127.0.0.1",
        isTLS: Bool = false
    ) {
        self.method = method
        self.body = body
        self.remoteAddress = remoteAddress
        self.isTLS = isTLS
        self.headers = headers.map { (name: $0.0.lowercased(), value: $0.1) }
        let target = RequestTarget(uri)
        path = target.path
        query = target.query
    }

    /// The first value of a header (name in any case).
    public func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.name == lowered }?.value
    }

    /// A cookie's value from the `Cookie` headers.
    public func cookie(_ name: String) -> String? {
        for header in headers where header.name == "cookie" {
            for pair in header.value.split(separator: ";") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                if kv.count == 2, kv[0].trimmingCharacters(in: " ") == name {
                    return String(kv[1]).trimmingCharacters(in: " ")
                }
            }
        }
        return nil
    }
}
