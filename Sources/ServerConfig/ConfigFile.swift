// MARK: - ConfigFile

/// The config file: a flat subset of TOML (https://toml.io/en/v1.0.0) parsed here, so the server
/// needs no TOML dependency.
///
/// Supported: `# comments` (whole-line and trailing), `key = value` with bare keys, basic strings
/// `"…"` (escapes `\" \\ \n \t \r \uXXXX`), literal strings `'…'`, integers (with `_`), floats, and
/// `true`/`false`. Not supported (rejected with the line number): tables `[x]`, arrays, inline
/// tables, dotted keys, multi-line strings, and dates. Every key must be a known setting, so a typo
/// is an error rather than a silently ignored line; a repeated key is an error (as in TOML).
///
/// ```toml
/// # lightly-server.toml
/// host = "0.0.0.0"
/// port = 8421
/// header_timeout = 10   # seconds
/// ```
public enum ConfigFile {
    /// One `key = value` line.
    public struct Entry: Sendable, Equatable {
        /// The setting.
        public var key: ServerSettings.Key
        /// The value as text (strings unquoted and unescaped, numbers as written).
        public var value: String
        /// "config file PATH line N", for error messages.
        public var source: String
    }

    /// Parses the text of a config file.
    /// - Parameters:
    ///   - text: The file's contents.
    ///   - source: The file name, used in error messages.
    /// - Returns: The entries in file order.
    /// - Throws: `ConfigError` naming the file and line.
    public static func parse(_ text: String, source: String = "config file") throws -> [Entry] {
        var entries: [Entry] = []
        var seen: Set<String> = []
        var lineNumber = 0
        // "\r\n" is one Character in Swift, so split on both forms (CRLF files from Windows editors).
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            lineNumber += 1
            let where_ = "\(source) line \(lineNumber)"
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line.removeLast() }
            let trimmed = String(line).trimmingWhitespace()
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            if trimmed.hasPrefix("[") {
                throw ConfigError(source: where_, message: "tables are not supported: settings are flat `key = value` lines")
            }
            guard let eq = trimmed.firstIndex(of: "=") else {
                throw ConfigError(source: where_, message: "expected `key = value`")
            }
            let key = String(trimmed[..<eq]).trimmingWhitespace()
            guard !key.isEmpty, key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
                throw ConfigError(source: where_, message: "invalid key '\(key)' (bare keys only)")
            }
            guard let setting = ServerSettings.Key(rawValue: key) else {
                let known = ServerSettings.Key.allCases.map(\.rawValue).joined(separator: ", ")
                throw ConfigError(source: where_, message: "unknown setting '\(key)' (known: \(known))")
            }
            guard seen.insert(key).inserted else {
                throw ConfigError(source: where_, message: "'\(key)' is set twice")
            }
            let value = try parseValue(trimmed[trimmed.index(after: eq)...], where_: where_)
            entries.append(Entry(key: setting, value: value, source: where_))
        }
        return entries
    }

    /// Parses a value and the optional trailing comment after it.
    static func parseValue(_ text: Substring, where_: String) throws -> String {
        var s = Substring(String(text).trimmingWhitespace())
        guard let first = s.first else { throw ConfigError(source: where_, message: "missing value") }
        var value = ""
        if first == "\"" || first == "'" {
            if s.hasPrefix("\"\"\"") || s.hasPrefix("'''") {
                throw ConfigError(source: where_, message: "multi-line strings are not supported")
            }
            s.removeFirst()
            var closed = false
            while let c = s.popFirst() {
                if c == first { closed = true; break }
                if c == "\\" && first == "\"" {
                    guard let e = s.popFirst() else { break }
                    switch e {
                    case "\"": value.append("\"")
                    case "\\": value.append("\\")
                    case "n": value.append("\n")
                    case "t": value.append("\t")
                    case "r": value.append("\r")
                    case "u", "U":
                        let n = e == "u" ? 4 : 8
                        let hex = String(s.prefix(n))
                        guard hex.count == n, let code = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(code) else {
                            throw ConfigError(source: where_, message: "invalid \\\(e) escape")
                        }
                        value.unicodeScalars.append(scalar)
                        s = s.dropFirst(n)
                    default:
                        throw ConfigError(source: where_, message: "invalid escape \\\(e)")
                    }
                } else {
                    value.append(c)
                }
            }
            guard closed else { throw ConfigError(source: where_, message: "unterminated string") }
        } else {
            if first == "[" || first == "{" {
                throw ConfigError(source: where_, message: "arrays and inline tables are not supported")
            }
            let end = s.firstIndex(of: "#") ?? s.endIndex
            value = String(s[..<end]).trimmingWhitespace()
            s = s[end...]
            let isBool = value == "true" || value == "false"
            let isNumber = !value.isEmpty && value.allSatisfy { $0.isNumber || "+-._eE".contains($0) } && value.first != "_"
            guard isBool || isNumber else {
                throw ConfigError(source: where_, message: "expected a quoted string, a number or true/false, got `\(value)`")
            }
        }
        let rest = String(s).trimmingWhitespace()
        guard rest.isEmpty || rest.hasPrefix("#") else {
            throw ConfigError(source: where_, message: "unexpected text after the value: `\(rest)`")
        }
        return value
    }

    /// A config file documenting every setting with its default (what `config/lightly-server.toml`
    /// ships), all lines commented out.
    public static func documentedDefaults() -> String {
        var out = "# lightly-server configuration: every setting with its default.\n"
        out += "# Precedence: defaults < this file < environment (LIGHTLY_SERVER_*) < command-line flags.\n"
        for key in ServerSettings.Key.allCases {
            let v = key.value(in: .defaults)
            let quoted = Int(v) != nil || Double(v) != nil ? v : "\"\(v)\""
            out += "\n# \(key.summary)\n# env \(key.environmentName)\n# \(key.rawValue) = \(quoted)\n"
        }
        return out
    }
}

extension ServerSettings.Key {
    /// One line of documentation.
    public var summary: String {
        switch self {
        case .host: "Address to listen on; 0.0.0.0 for every interface."
        case .port: "TCP port; 0 picks a free one."
        case .dataDir: "Data folder (database, blobs/, tmp/, signing.key); created with mode 0700."
        case .database: "postgresql://USER:PASSWORD@HOST:PORT/DB to keep the database in PostgreSQL; empty = SQLite file in data_dir."
        case .publicURL: "URL clients use to reach the server (signed URLs point here); empty = http(s)://HOST:PORT."
        case .maxBodyBytes: "Largest request body in bytes; larger gets 413."
        case .headerTimeout: "Seconds to receive a complete request head; then 408."
        case .idleTimeout: "Seconds an idle keep-alive connection stays open."
        case .maxConnections: "Simultaneous connections; at the cap a less busy address displaces the busiest, else 503."
        case .maxConnectionsPerAddress: "Simultaneous connections from one client address; more get 503. 0 = no limit."
        case .minTransferRate: "Bytes/s a request must at least arrive with (slower: 408 and close). 0 = off."
        case .transferRateWindow: "Seconds over which min_transfer_rate is measured."
        case .bodyFileThreshold: "Bodies above this many bytes are spooled to <data_dir>/tmp."
        case .workers: "Threads that run requests, with one database reader each (at most 32); 0 = 4 per core, at least 8."
        case .logLevel: "trace, debug, info, notice, warning, error or critical."
        case .metrics: "Serve GET /metrics (Prometheus text format) to loopback clients, or with the admin token."
        case .signedURLTTL: "Lifetime of signed upload/download URLs, in seconds."
        case .jobPollWait: "waitTimeTillNextPoll told to clients polling jobs, in seconds."
        case .jobLease: "Seconds a claimed job stays one server's without renewal; then another server on the same database takes it over."

        case .maxDatasetSamples: "Most samples one dataset may hold (quota)."
        case .memoryBudget: "Bytes of embedding matrices held at once (cache, jobs, uploads); a larger upload gets 413. auto = half the memory (or the container's limit); sizes like 8GiB."
        case .minimumClientVersion: "Oldest lightly Python client version accepted."
        case .tlsCert: "PEM certificate chain for HTTPS (with tls_key); empty = plain HTTP. Reloaded on SIGHUP."
        case .tlsKey: "PEM private key of tls_cert."
        case .deterministicIds: "Seed of the id generator for reproducible test runs (docs/admin.md); empty = random ids."
        case .clock: "Clock of stored timestamps: system, fixed:EPOCH_MS or step:START_MS:STEP_MS (docs/admin.md)."
        case .adminToken: "Bearer token of the admin API (/_admin/..., docs/admin.md); empty = admin API off (404)."
        }
    }
}
