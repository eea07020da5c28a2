import LightlyCore

/// Server settings that the API layer reads. All have working defaults.
public struct APISettings: Sendable {
    /// Base of minted signed URLs, e.g. `https://lightly.example.com` (no trailing slash).
    /// nil: `http://` + the API request's `Host` header (docs/protocol.md §6).
    public var publicURL: String?
    /// Lifetime of a signed URL, seconds.
    public var signedURLTTL: Int
    /// `waitTimeTillNextPoll` for running jobs, seconds.
    public var jobPollWait: Int
    /// Maximum samples per dataset: the quota (`GET /v1/quota`).
    public var maxDatasetSamples: Int
    /// Answer of `GET /v1/versions/pip/minimum`; must be a three-part `X.Y.Z` (docs/protocol.md §12).
    public var minimumClientVersion: String
    /// Largest JSON request body, bytes.
    public var maxJSONBodyBytes: Int
    /// Largest image/thumbnail body on a signed PUT, bytes.
    public var maxUploadBytes: Int
    /// Largest embedding CSV on a signed PUT, bytes.
    public var maxCSVBytes: Int
    /// Seconds between sweeps for files a crash left behind (temporary files and blob files
    /// without a database row, older than `debrisMinimumAge`); 0 = only at start. Default 1 h.
    public var debrisSweepInterval: Double = 3600
    /// Seconds a leftover file must be untouched before a sweep while serving removes it, so
    /// uploads in flight are safe. Default 1 h.
    public var debrisMinimumAge: Double = 3600
    /// Requests `GET /_admin/requests` remembers (a ring in memory). Default 1000.
    public var requestJournalSize: Int = 1000
    /// Serve `GET /metrics` (Prometheus text format; loopback clients only, or with the admin token).
    public var metrics = false
    /// Bearer token of the admin API (`/_admin/...`, docs/admin.md). `nil` (default): the
    /// admin API is off and every `/_admin/...` path answers exactly like an unknown route.
    public var adminToken: String? = nil
    /// The memory budget for embedding matrices, bytes (``EmbeddingCache``): the cache, the
    /// matrices jobs use and the matrices uploads build together stay within it; an upload
    /// whose matrix is larger gets 413 `EMBEDDING_TOO_LARGE`, a job on one fails. Default 2 GiB
    /// here; `lightly-server serve` passes its `memory_budget` setting.
    public var memoryBudget: Int = 2 << 30
    /// Seconds a job claimed by this server stays its own without a renewal (renewed every
    /// third of it while the job runs); after that another server on the same store may take
    /// the job over. Default 30.
    public var jobLeaseSeconds: Double = 30
    /// True when other servers may share the store (PostgreSQL): job claims lock rows, a start
    /// leaves jobs with a live lease alone, and cached mappings are checked against the store
    /// before use. Default false; `LightlyApplication` sets it for a PostgreSQL store.
    public var sharedStore = false

    public init(publicURL: String? = nil, signedURLTTL: Int = 3600, jobPollWait: Int = 1,
                maxDatasetSamples: Int = 1_000_000, minimumClientVersion: String = "1.0.0",
                maxJSONBodyBytes: Int = 256 << 20, maxUploadBytes: Int = 512 << 20,
                maxCSVBytes: Int = 8 << 30) {
        self.publicURL = publicURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.signedURLTTL = signedURLTTL
        self.jobPollWait = jobPollWait
        self.maxDatasetSamples = maxDatasetSamples
        self.minimumClientVersion = minimumClientVersion
        self.maxJSONBodyBytes = maxJSONBodyBytes
        self.maxUploadBytes = maxUploadBytes
        self.maxCSVBytes = maxCSVBytes
    }

    /// Caps on an uploaded embedding CSV: the parser's defaults, but as many values as the
    /// memory budget holds (the streamed ingest holds the matrix once, never the file or a
    /// copy, and refuses it with 413 once it outgrows ``memoryBudget``).
    public var embeddingCSVLimits: EmbeddingCSV.Limits {
        var l = EmbeddingCSV.Limits.default
        l.maxValues = max(1 << 29, memoryBudget / 4 + 1)
        return l
    }
}
