#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - ServerSettings

/// Every setting of `lightly-server serve`, with its default.
///
/// Settings come from four layers, later ones winning:
/// defaults < config file (`--config FILE`, flat TOML) < environment (`LIGHTLY_SERVER_*`) < flags.
/// `resolve(defaults:file:environment:flags:)` is pure, so the precedence is unit-tested.
///
/// ```swift
/// let file = try ConfigFile.parse(text, source: path)
/// let settings = try ServerSettings.resolve(file: file, environment: ProcessInfo.processInfo.environment,
///                                           flags: [.port: "0"])
/// ```
public struct ServerSettings: Sendable, Equatable {
    /// Address to listen on. `0.0.0.0` listens on every interface (as in the Docker image).
    public var host = "127.0.0.1"
    /// TCP port; 0 picks a free one (printed in the `listening on` line).
    public var port = 8421
    /// The data folder (database, blobs, temporary files, signing key).
    public var dataDir = "./lightly-data"
    /// A `postgresql://` URL: keep the database in PostgreSQL instead of the SQLite file under
    /// `dataDir` (blobs and the signing key stay in `dataDir`). `nil` = SQLite. Its password is
    /// never printed (`lightly-server settings` shows it as `***`).
    public var database: String? = nil
    /// The URL clients use to reach the server (signed URLs point here); `nil` derives it from host/port.
    public var publicURL: String? = nil
    /// Largest accepted request body in bytes (larger gets 413).
    public var maxBodyBytes = 8 << 30
    /// Seconds a client has to send the complete request head (408 after).
    public var headerTimeout = 10.0
    /// Seconds an idle keep-alive connection is kept open.
    public var idleTimeout = 60.0
    /// Simultaneous connections. At the cap, a client from a less busy address takes the place
    /// of an idle or still-arriving connection of the busiest address; otherwise 503.
    public var maxConnections = 1024
    /// Simultaneous connections from one client address (IP); more get 503. 0 = no limit
    /// (behind a reverse proxy every client has the proxy's address).
    public var maxConnectionsPerAddress = 256
    /// Bytes per second a request (head and body) must at least arrive with, and a response be
    /// read with, measured over `transferRateWindow`; slower requests get 408 and are closed.
    /// 0 turns the check off.
    public var minTransferRate = 1024
    /// Seconds over which `minTransferRate` is measured.
    public var transferRateWindow = 10.0
    /// Request bodies larger than this many bytes are spooled to `<data>/tmp` instead of memory.
    public var bodyFileThreshold = 8 << 20
    /// Threads that run request handlers; 0 (the default) picks ``automaticWorkers``. Each
    /// handler that waits (for a commit, a database reader, the disk) holds one, so this bounds
    /// how many writes can share one commit and how many reads run at once. The database gets
    /// ``databaseReaders`` reader connections to match.
    public var workers = 0
    /// One of trace, debug, info, notice, warning, error, critical.
    public var logLevel = "info"
    /// Serve `GET /metrics` (Prometheus text format).
    public var metrics = false
    /// Lifetime of signed upload/download URLs, in seconds.
    public var signedURLTTL = 3600
    /// `waitTimeTillNextPoll` told to clients polling jobs, in seconds.
    public var jobPollWait = 1
    /// Seconds a job claimed by one server stays its own without a renewal (renewed every
    /// third of it); after that another server on the same database takes the job over.
    public var jobLease = 30.0
    /// Most samples one dataset may hold (quota).
    public var maxDatasetSamples = 1_000_000
    /// Bytes of embedding matrices the server holds at once (cache, jobs, uploads in
    /// progress); an upload whose float32 matrix (rows × dimension × 4) is larger gets 413.
    /// `nil` (`auto`, the default): half of the machine's memory, or of the container's
    /// limit when that is lower (``defaultMemoryBudget(physicalBytes:containerLimitBytes:)``).
    /// Written as bytes or with a unit: `8GiB`, `512MiB`, `2G` (K/M/G/T and KiB… are powers
    /// of 1024, KB/MB/GB/TB powers of 1000).
    public var memoryBudget: Int? = nil
    /// Oldest `lightly` Python client version accepted (`/v1/versions/...`).
    public var minimumClientVersion = "1.0.0"
    /// PEM certificate chain (server certificate first) for HTTPS; `nil` serves plain HTTP.
    /// Set together with `tlsKey`.
    public var tlsCert: String? = nil
    /// PEM private key of `tlsCert`.
    public var tlsKey: String? = nil
    /// Bearer token of the admin API (`/_admin/...`, docs/admin.md); `nil` turns the admin API
    /// off, and its routes answer 404 like any unknown path. Never logged or printed.
    public var adminToken: String? = nil
    /// Seed of the entity id generator; `nil` (default) = random ids. For reproducible test
    /// runs: the same requests in the same order get the same ids.
    public var deterministicIds: UInt64? = nil
    /// The clock of stored timestamps: `system` (default), `fixed:EPOCH_MS`, or
    /// `step:START_MS:STEP_MS` (one step per read).
    public var clock = "system"

    /// The worker threads `serve` runs: ``workers``, or ``automaticWorkers`` when it is 0.
    public var resolvedWorkers: Int { workers > 0 ? workers : Self.automaticWorkers }

    /// The worker count when `workers` is 0: 4 per core, at least 8, at most ``maxWorkers``.
    ///
    /// Measured on the 2-core reference machine (`benchmarks/http/workers-sweep.sh`, see
    /// `benchmarks/README.md`): writes share a commit only while their handlers wait in it, so
    /// sample creations with 16 clients rose from 4 workers (≈ 2.8k/s) to 8 (≈ 3.8k/s), 16
    /// (≈ 4.1k/s) and 32 (≈ 5.0k/s); but reads are CPU-bound, and more runnable threads than
    /// cores cost CPU per request in preemption and wake-ups: authenticated `GET /v1/datasets`
    /// took ≈ 97 µs of CPU per request with 4 or 8 workers, ≈ 120 with 16 and ≈ 160 with 32
    /// (about 15–20 % fewer requests per second). 8 keeps reads at their best and gets most of
    /// the write gain; a write-heavy server (many clients creating samples) does better with 32.
    public static var automaticWorkers: Int {
        min(maxWorkers, max(8, 4 * max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))))
    }

    /// The most worker threads `workers` accepts.
    public static let maxWorkers = 256

    /// Most SQLite reader connections: each keeps its own page cache (up to 2 MiB), and more
    /// readers than this cannot all be busy on any machine this server targets.
    public static let maxDatabaseReaders = 32

    /// Reader connections of the database pool: one per worker, at most ``maxDatabaseReaders``,
    /// so a read never waits for a connection while a worker is free to run it.
    public var databaseReaders: Int { min(resolvedWorkers, Self.maxDatabaseReaders) }

    /// The `auto` memory budget: half of `physicalBytes`, or of `containerLimitBytes` when
    /// that is set and lower; at least 256 MiB.
    public static func defaultMemoryBudget(physicalBytes: Int, containerLimitBytes: Int?) -> Int {
        var total = physicalBytes
        if let c = containerLimitBytes, c > 0, c < total { total = c }
        return max(256 << 20, total / 2)
    }

    /// Parses a size: digits (with optional `_` and one decimal point) and an optional unit
    /// B, K, M, G, T, KiB, MiB, GiB, TiB (powers of 1024) or KB, MB, GB, TB (powers of 1000),
    /// case-insensitive, spaces allowed before the unit. Nil when malformed or above `Int.max`.
    public static func parseByteSize(_ text: String) -> Int? {
        let t = text.trimmingWhitespace().filter { $0 != "_" }
        let split = t.firstIndex(where: { !($0.isASCII && ($0.isNumber || $0 == ".")) }) ?? t.endIndex
        let number = String(t[..<split]), unit = String(t[split...]).trimmingWhitespace().lowercased()
        guard !number.isEmpty, number.filter({ $0 == "." }).count <= 1, let value = Double(number) else { return nil }
        let scale: Double
        switch unit {
        case "", "b": scale = 1
        case "k", "kib": scale = 1024
        case "m", "mib": scale = 1024 * 1024
        case "g", "gib": scale = 1024 * 1024 * 1024
        case "t", "tib": scale = 1024 * 1024 * 1024 * 1024
        case "kb": scale = 1e3
        case "mb": scale = 1e6
        case "gb": scale = 1e9
        case "tb": scale = 1e12
        default: return nil
        }
        let bytes = (value * scale).rounded()
        guard bytes.isFinite, bytes >= 0, bytes < 9.2e18 else { return nil }
        return Int(bytes)
    }

    /// Whether the server speaks HTTPS (certificate and key are set).
    public var usesTLS: Bool { tlsCert != nil && tlsKey != nil }

    /// The built-in defaults.
    public init() {}

    /// The defaults, spelled as a constant.
    public static let defaults = ServerSettings()

    /// The log levels `logLevel` accepts (swift-log's `Logger.Level` raw values).
    public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// The environment variable that names a config file when `--config` is not given.
    public static let configEnvironmentVariable = "LIGHTLY_SERVER_CONFIG"

    // MARK: Resolving

    /// Layers the sources over `defaults`: file < environment < flags.
    ///
    /// - Parameters:
    ///   - defaults: The base (normally `.defaults`).
    ///   - file: Values from the config file (see `ConfigFile.parse`).
    ///   - environment: The process environment; only `LIGHTLY_SERVER_<KEY>` variables of known
    ///     keys are read (others, like the client's `LIGHTLY_SERVER_LOCATION`, are ignored).
    ///   - flags: Values given on the command line.
    /// - Returns: The resolved settings.
    /// - Throws: `ConfigError` naming the source (file line, variable or flag) of a bad value.
    public static func resolve(defaults: ServerSettings = .defaults,
                               file: [ConfigFile.Entry] = [],
                               environment: [String: String] = [:],
                               flags: [Key: String] = [:]) throws -> ServerSettings {
        var s = defaults
        for entry in file {
            try entry.key.apply(entry.value, to: &s, source: entry.source)
        }
        for key in Key.allCases {
            if let v = environment[key.environmentName] {
                try key.apply(v, to: &s, source: "environment variable \(key.environmentName)")
            }
        }
        for key in Key.allCases {
            if let v = flags[key] { try key.apply(v, to: &s, source: "option \(key.flagName)") }
        }
        guard (s.tlsCert == nil) == (s.tlsKey == nil) else {
            throw ConfigError(source: "settings", message: "tls_cert and tls_key must be set together")
        }
        return s
    }

    /// Whether `text` is a clock setting: `system`, `fixed:EPOCH_MS` or `step:START_MS:STEP_MS`
    /// (milliseconds ≥ 0, at most 2^53).
    public static func isClock(_ text: String) -> Bool {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let ms = { (s: Substring) in Int64(s).map { $0 >= 0 && $0 <= 1 << 53 } ?? false }
        switch parts.first {
        case "system": return parts.count == 1
        case "fixed": return parts.count == 2 && ms(parts[1])
        case "step": return parts.count == 3 && ms(parts[1]) && ms(parts[2])
        default: return false
        }
    }

    /// The base URL clients should use: `publicURL`, or `http://HOST:PORT` (`https://` with TLS;
    /// `127.0.0.1` for a wildcard host, and brackets around an IPv6 address).
    public func location(port actualPort: Int) -> String {
        if let publicURL { return publicURL }
        var h = host
        if h == "0.0.0.0" || h.isEmpty { h = "127.0.0.1" }
        if h == "::" { h = "::1" }
        return "\(usesTLS ? "https" : "http")://\(Self.hostForURL(h)):\(actualPort)"
    }

    /// `host` as it appears in a URL (IPv6 addresses in brackets).
    public static func hostForURL(_ host: String) -> String {
        host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
    }
}

// MARK: - Keys

extension ServerSettings {
    /// One setting: its name in the config file, environment and command line, and its parser.
    public enum Key: String, CaseIterable, Sendable, Hashable {
        case host, port
        case dataDir = "data_dir"
        case database
        case publicURL = "public_url"
        case maxBodyBytes = "max_body_bytes"
        case headerTimeout = "header_timeout"
        case idleTimeout = "idle_timeout"
        case maxConnections = "max_connections"
        case maxConnectionsPerAddress = "max_connections_per_address"
        case minTransferRate = "min_transfer_rate"
        case transferRateWindow = "transfer_rate_window"
        case bodyFileThreshold = "body_file_threshold"
        case workers
        case logLevel = "log_level"
        case metrics
        case signedURLTTL = "signed_url_ttl"
        case jobPollWait = "job_poll_wait"
        case jobLease = "job_lease"
        case maxDatasetSamples = "max_dataset_samples"
        case memoryBudget = "memory_budget"
        case minimumClientVersion = "minimum_client_version"
        case tlsCert = "tls_cert"
        case tlsKey = "tls_key"
        case adminToken = "admin_token"
        case deterministicIds = "deterministic_ids"
        case clock

        /// The name in the config file (`max_body_bytes`).
        public var fileName: String { rawValue }
        /// The environment variable (`LIGHTLY_SERVER_MAX_BODY_BYTES`).
        public var environmentName: String { "LIGHTLY_SERVER_" + rawValue.uppercased() }
        /// The command-line option (`--max-body-bytes`).
        public var flagName: String { "--" + rawValue.replacingUnderscores() }

        /// Whether the value is a secret that `lightly-server settings` must not print.
        public var isSecret: Bool { self == .adminToken }

        /// The value of this setting in `s`, as it would be written in the config file.
        public func value(in s: ServerSettings) -> String {
            switch self {
            case .host: s.host
            case .port: String(s.port)
            case .dataDir: s.dataDir
            case .database: s.database ?? ""
            case .publicURL: s.publicURL ?? ""
            case .maxBodyBytes: String(s.maxBodyBytes)
            case .headerTimeout: Self.seconds(s.headerTimeout)
            case .idleTimeout: Self.seconds(s.idleTimeout)
            case .maxConnections: String(s.maxConnections)
            case .maxConnectionsPerAddress: String(s.maxConnectionsPerAddress)
            case .minTransferRate: String(s.minTransferRate)
            case .transferRateWindow: Self.seconds(s.transferRateWindow)
            case .bodyFileThreshold: String(s.bodyFileThreshold)
            case .workers: String(s.workers)
            case .logLevel: s.logLevel
            case .metrics: s.metrics ? "true" : "false"
            case .signedURLTTL: String(s.signedURLTTL)
            case .jobPollWait: String(s.jobPollWait)
            case .jobLease: Self.seconds(s.jobLease)
            case .maxDatasetSamples: String(s.maxDatasetSamples)
            case .memoryBudget: s.memoryBudget.map(String.init) ?? "auto"
            case .minimumClientVersion: s.minimumClientVersion
            case .tlsCert: s.tlsCert ?? ""
            case .tlsKey: s.tlsKey ?? ""
            case .adminToken: s.adminToken ?? ""
            case .deterministicIds: s.deterministicIds.map(String.init) ?? ""
            case .clock: s.clock
            }
        }

        /// Parses `text` and stores it in `s`.
        /// - Throws: `ConfigError` that names `source`.
        public func apply(_ text: String, to s: inout ServerSettings, source: String) throws {
            let v = text.trimmingWhitespace()
            func fail(_ expected: String) -> ConfigError {
                ConfigError(source: source, message: "\(rawValue): expected \(expected), got \"\(text)\"")
            }
            func int(_ range: ClosedRange<Int>) throws -> Int {
                guard let n = Int(v.filter { $0 != "_" }), range.contains(n) else {
                    throw fail("an integer in \(range.lowerBound)...\(range.upperBound)")
                }
                return n
            }
            func seconds() throws -> Double {
                guard let d = Double(v), d > 0, d <= 86_400 * 7 else { throw fail("seconds > 0") }
                return d
            }
            switch self {
            case .host:
                guard !v.isEmpty, !v.contains(where: { $0 == " " || $0 == "/" }) else { throw fail("a host name or IP address") }
                s.host = v.hasPrefix("[") && v.hasSuffix("]") ? String(v.dropFirst().dropLast()) : v
            case .port: s.port = try int(0...65_535)
            case .dataDir:
                guard !v.isEmpty else { throw fail("a folder path") }
                s.dataDir = v
            case .database:
                if v.isEmpty { s.database = nil; return }
                // Never echo the value: a URL may carry a password.
                guard v.hasPrefix("postgresql://") || v.hasPrefix("postgres://"), !v.contains(where: \.isWhitespace) else {
                    throw ConfigError(source: source, message: "\(rawValue): expected a postgresql:// URL (or empty for the SQLite file in data_dir)")
                }
                s.database = v
            case .publicURL:
                if v.isEmpty { s.publicURL = nil; return }
                guard v.hasPrefix("http://") || v.hasPrefix("https://"), !v.contains(" "), !v.contains("?") else {
                    throw fail("an http:// or https:// URL")
                }
                var u = v
                while u.hasSuffix("/") { u.removeLast() }
                s.publicURL = u
            case .maxBodyBytes: s.maxBodyBytes = try int(1...Int.max)
            case .headerTimeout: s.headerTimeout = try seconds()
            case .idleTimeout: s.idleTimeout = try seconds()
            case .maxConnections: s.maxConnections = try int(1...1_000_000)
            case .maxConnectionsPerAddress: s.maxConnectionsPerAddress = try int(0...1_000_000)
            case .minTransferRate: s.minTransferRate = try int(0...(1 << 40))
            case .transferRateWindow: s.transferRateWindow = try seconds()
            case .bodyFileThreshold: s.bodyFileThreshold = try int(0...Int.max)
            case .workers: s.workers = try int(0...ServerSettings.maxWorkers)
            case .logLevel:
                let l = v.lowercased()
                guard ServerSettings.logLevels.contains(l) else { throw fail("one of \(ServerSettings.logLevels.joined(separator: ", "))") }
                s.logLevel = l
            case .metrics:
                switch v.lowercased() {
                case "true", "1", "yes", "on": s.metrics = true
                case "false", "0", "no", "off", "": s.metrics = false
                default: throw fail("true or false")
                }
            case .signedURLTTL: s.signedURLTTL = try int(1...(86_400 * 30))
            case .jobPollWait: s.jobPollWait = try int(0...3600)
            case .jobLease:
                guard let d = Double(v), d >= 0.3, d <= 86_400 else { throw fail("seconds in 0.3...86400") }
                s.jobLease = d

            case .maxDatasetSamples: s.maxDatasetSamples = try int(1...Int(Int32.max))
            case .memoryBudget:
                if v.isEmpty || v.lowercased() == "auto" { s.memoryBudget = nil; return }
                guard let n = ServerSettings.parseByteSize(v), n >= 1 else {
                    throw fail("auto, or a size in bytes ≥ 1 such as 8GiB, 512MiB or 2000000000")
                }
                s.memoryBudget = n
            case .minimumClientVersion:
                // Three parts: the API answers it verbatim from /v1/versions/pip/minimum (docs/protocol.md §12).
                let parts = v.split(separator: ".", omittingEmptySubsequences: false)
                guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && Int($0) != nil }) else {
                    throw fail("a three-part version like 1.0.0")
                }
                s.minimumClientVersion = v
            case .tlsCert: s.tlsCert = v.isEmpty ? nil : v
            case .tlsKey: s.tlsKey = v.isEmpty ? nil : v
            case .adminToken:
                if v.isEmpty { s.adminToken = nil; return }
                // Never echo the value: the message would carry a secret into logs and terminals.
                guard (8...256).contains(v.utf8.count),
                      v.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value < 0x7f }) else {
                    throw ConfigError(source: source, message: "\(rawValue): expected 8-256 printable ASCII characters without spaces")
                }
                s.adminToken = v
            case .deterministicIds:
                if v.isEmpty { s.deterministicIds = nil; return }
                guard let seed = UInt64(v.filter { $0 != "_" }) else { throw fail("an integer seed in 0...\(UInt64.max), or empty for random ids") }
                s.deterministicIds = seed
            case .clock:
                guard ServerSettings.isClock(v) else { throw fail("system, fixed:EPOCH_MS or step:START_MS:STEP_MS") }
                s.clock = v
            }
        }

        static func seconds(_ d: Double) -> String {
            d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d)
        }
    }
}

// MARK: - ConfigError

/// A bad setting, with where it came from.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    /// "config file x.toml line 3", "environment variable LIGHTLY_SERVER_PORT", "option --port".
    public var source: String
    /// What is wrong.
    public var message: String
    /// A config error.
    public init(source: String, message: String) {
        self.source = source
        self.message = message
    }
    public var description: String { "\(source): \(message)" }
}

// MARK: - Small string helpers (no Foundation needed)

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }

    func replacingUnderscores() -> String {
        String(map { $0 == "_" ? "-" : $0 })
    }
}
