// Wire types of the asynchronous parts of the API: embeddings (docs/protocol.md §8), active-learning
// scores (§9), the sampling trigger and jobs (§10). Field names are the exact
// camelCase names of docs/openapi.yaml; required fields are non-optional; optional fields that are nil
// are omitted from the JSON (the synthesized `encodeIfPresent`), never sent as `null`.

// MARK: - Enum-like strings

/// The state of an asynchronous job (docs/openapi.yaml `JobState`). The client keeps polling on
/// `UNKNOWN`, `WAITING` and `RUNNING`.
public struct JobState: WireEnum {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let unknown = JobState(rawValue: "UNKNOWN")
    public static let waiting = JobState(rawValue: "WAITING")
    public static let running = JobState(rawValue: "RUNNING")
    public static let failed = JobState(rawValue: "FAILED")
    public static let finished = JobState(rawValue: "FINISHED")

    /// True for the states after which nothing changes any more.
    public var isTerminal: Bool { self == .failed || self == .finished }
}

/// What a job produces (docs/openapi.yaml `JobResultType`).
public struct JobResultType: WireEnum {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let datasetProcessing = JobResultType(rawValue: "DATASET_PROCESSING")
    public static let sampling = JobResultType(rawValue: "SAMPLING")
    public static let imageMeta = JobResultType(rawValue: "IMAGEMETA")
    public static let embeddings2D = JobResultType(rawValue: "EMBEDDINGS2D")
    public static let embedding = JobResultType(rawValue: "EMBEDDING")
}

// MARK: - Jobs

/// Answer of every call that starts a job (`POST …/sampling`).
public struct AsyncTaskData: Codable, Sendable, Equatable {
    public var jobId: String
    public init(jobId: String) { self.jobId = jobId }
}

/// What a finished job produced. For `SAMPLING` the data is the id of the new tag (the client
/// raises when it is missing); for `EMBEDDINGS2D` it is the embedding id.
///
/// `data` is a string here because every job this server runs produces an id. The Lightly
/// schema types it as "any"; a non-string value decodes as nil rather than failing.
public struct JobStatusDataResult: Codable, Sendable, Equatable {
    public var type: JobResultType
    public var data: String?
    public init(type: JobResultType, data: String?) { self.type = type; self.data = data }

    private enum CodingKeys: String, CodingKey { case type, data }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decode(JobResultType.self, forKey: .type)
        data = (try? c.decodeIfPresent(String.self, forKey: .data)) ?? nil
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(type, forKey: .type)
        try c.encodeIfPresent(data, forKey: .data)
    }
}

/// Answer of `GET /v1/jobs/{jobId}` (docs/openapi.yaml, docs/protocol.md §10).
public struct JobStatusData: Codable, Sendable, Equatable {
    public var id: String
    public var status: JobState
    /// Progress (`JobStatusMeta`, declared in DatasetWire.swift): `total`, `processed`.
    public var meta: JobStatusMeta?
    /// Seconds the client sleeps before the next poll (it truncates with `int()`).
    public var waitTimeTillNextPoll: Int
    public var createdAt: Int64
    public var finishedAt: Int64?
    /// Shown to the user when `status` is `FAILED`.
    public var error: String?
    /// Must be present when `status` is `FINISHED`.
    public var result: JobStatusDataResult?

    public init(id: String, status: JobState, meta: JobStatusMeta? = nil, waitTimeTillNextPoll: Int,
                createdAt: Int64, finishedAt: Int64? = nil, error: String? = nil, result: JobStatusDataResult? = nil) {
        self.id = id
        self.status = status
        self.meta = meta
        self.waitTimeTillNextPoll = waitTimeTillNextPoll
        self.createdAt = createdAt
        self.finishedAt = finishedAt
        self.error = error
        self.result = result
    }
}

/// One element of `GET /v1/jobs` (docs/openapi.yaml `JobsData`).
public struct JobsData: Codable, Sendable, Equatable {
    public var id: String
    public var jobId: String
    public var jobType: JobResultType
    public var status: JobState
    public var finishedAt: Int64?
    public var createdAt: Int64
    public init(id: String, jobId: String, jobType: JobResultType, status: JobState, finishedAt: Int64? = nil, createdAt: Int64) {
        self.id = id
        self.jobId = jobId
        self.jobType = jobType
        self.status = status
        self.finishedAt = finishedAt
        self.createdAt = createdAt
    }
}

// MARK: - Sampling

/// `config.stoppingCondition` of a sampling request. Both numbers may arrive as JSON ints
/// (`100`, `-1`) or floats (`0.05`); `JSONDecoder` reads either into `Double`.
public struct SamplingStoppingCondition: Codable, Sendable, Equatable {
    /// Total size of the result, preselected samples included; (0, 1) is a fraction of the
    /// dataset; ≤ 0 means no count limit.
    public var nSamples: Double
    /// Stop when the chosen candidate is closer than this to the selected set; ≤ 0 disables it.
    public var minDistance: Double
    public init(nSamples: Double, minDistance: Double) { self.nSamples = nSamples; self.minDistance = minDistance }
}

/// `config` of a sampling request.
public struct SamplingConfig: Codable, Sendable, Equatable {
    public var stoppingCondition: SamplingStoppingCondition
    public init(stoppingCondition: SamplingStoppingCondition) { self.stoppingCondition = stoppingCondition }
}

/// Body of `POST /v1/datasets/{datasetId}/embeddings/{embeddingId}/sampling` (docs/openapi.yaml).
public struct SamplingCreateRequest: Codable, Sendable, Equatable {
    public var newTagName: String
    /// `RANDOM`, `CORESET`, `CORAL` or `ACTIVE_LEARNING`; kept as text so that an unknown
    /// method gets a precise 400 instead of a generic decoding error.
    public var method: String
    public var config: SamplingConfig
    public var preselectedTagId: String?
    public var queryTagId: String?
    /// The client's idea of the dataset size (`tags[0].totSize`); a number.
    public var rowCount: Double?
    /// Score type for CORAL/ACTIVE_LEARNING (1.2.x); defaults to `uncertainty_margin`.
    public var scoreType: String?

    public init(newTagName: String, method: String, config: SamplingConfig, preselectedTagId: String? = nil,
                queryTagId: String? = nil, rowCount: Double? = nil, scoreType: String? = nil) {
        self.newTagName = newTagName
        self.method = method
        self.config = config
        self.preselectedTagId = preselectedTagId
        self.queryTagId = queryTagId
        self.rowCount = rowCount
        self.scoreType = scoreType
    }
}

// MARK: - Scores

/// Body of `POST …/tags/{tagId}/scores` (docs/openapi.yaml).
public struct ActiveLearningScoreCreateRequest: Codable, Sendable, Equatable {
    public var scoreType: String
    public var scores: [Double]
    public init(scoreType: String, scores: [Double]) { self.scoreType = scoreType; self.scores = scores }
}

/// One element of `GET …/tags/{tagId}/scores`.
public struct TagActiveLearningScoresData: Codable, Sendable, Equatable {
    public var id: String
    public var tagId: String
    public var scoreType: String
    public var createdAt: Int64
    public init(id: String, tagId: String, scoreType: String, createdAt: Int64) {
        self.id = id
        self.tagId = tagId
        self.scoreType = scoreType
        self.createdAt = createdAt
    }
}

/// Answer of `GET …/tags/{tagId}/scores/{scoreId}`.
public struct ActiveLearningScoreData: Codable, Sendable, Equatable {
    public var id: String
    public var tagId: String
    public var scoreType: String
    public var scores: [Double]
    public var createdAt: Int64
    public init(id: String, tagId: String, scoreType: String, scores: [Double], createdAt: Int64) {
        self.id = id
        self.tagId = tagId
        self.scoreType = scoreType
        self.scores = scores
        self.createdAt = createdAt
    }
}

// MARK: - Embeddings

/// One element of `GET /v1/datasets/{datasetId}/embeddings` (docs/openapi.yaml).
public struct DatasetEmbeddingData: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    /// True once a CSV was uploaded, validated and stored.
    public var isProcessed: Bool
    public var createdAt: Int64
    /// True once at least one 2-D projection exists.
    public var is2d: Bool?
    public init(id: String, name: String, isProcessed: Bool, createdAt: Int64, is2d: Bool? = nil) {
        self.id = id
        self.name = name
        self.isProcessed = isProcessed
        self.createdAt = createdAt
        self.is2d = is2d
    }
}

/// Answer of `GET …/embeddings/writeCSVUrl?name=` (docs/openapi.yaml).
public struct WriteCSVUrlData: Codable, Sendable, Equatable {
    /// Absolute signed PUT URL; the client uploads the CSV there without a token.
    public var signedWriteUrl: String
    public var embeddingId: String
    public init(signedWriteUrl: String, embeddingId: String) { self.signedWriteUrl = signedWriteUrl; self.embeddingId = embeddingId }
}

/// Body of `POST …/embeddings/{embeddingId}/trigger2dEmbeddingsJob` (1.1.22+).
public struct EmbeddingIdTrigger2dEmbeddingsJobBody: Codable, Sendable, Equatable {
    /// `PCA`, `TSNE` or `UMAP`.
    public var dimensionalityReductionMethod: String
    public init(dimensionalityReductionMethod: String) { self.dimensionalityReductionMethod = dimensionalityReductionMethod }
}

/// One 2-D projection of an embedding (`GET …/embeddings/{embeddingId}/2d`), shaped like
/// Lightly's `Embedding2dData`: point *i* is (`coordinatesDimension1[i]`,
/// `coordinatesDimension2[i]`) and belongs to sample *i* of the mapping order (docs/protocol.md §5).
public struct Embedding2dData: Codable, Sendable, Equatable {
    public var id: String
    public var datasetId: String
    public var embeddingId: String
    public var name: String
    public var createdAt: Int64
    /// The method that was requested (`PCA`, `TSNE`, `UMAP`). This server computes PCA for
    /// all three; `computedWith` says so.
    public var dimensionalityReductionMethod: String
    /// The projection actually computed (always `PCA`). Not sent: the strict client models
    /// reject it.
    public var computedWith: String?
    public var coordinatesDimension1: [Float]
    public var coordinatesDimension2: [Float]
    public init(id: String, datasetId: String, embeddingId: String, name: String, createdAt: Int64,
                dimensionalityReductionMethod: String, computedWith: String? = nil,
                coordinatesDimension1: [Float], coordinatesDimension2: [Float]) {
        self.id = id
        self.datasetId = datasetId
        self.embeddingId = embeddingId
        self.name = name
        self.createdAt = createdAt
        self.dimensionalityReductionMethod = dimensionalityReductionMethod
        self.computedWith = computedWith
        self.coordinatesDimension1 = coordinatesDimension1
        self.coordinatesDimension2 = coordinatesDimension2
    }

    private enum CodingKeys: String, CodingKey {
        case id, datasetId, embeddingId, name, createdAt, dimensionalityReductionMethod, computedWith
        case coordinatesDimension1, coordinatesDimension2
    }

    /// Every field but `computedWith` (see ``allowedFields``).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(datasetId, forKey: .datasetId)
        try c.encode(embeddingId, forKey: .embeddingId)
        try c.encode(name, forKey: .name)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(dimensionalityReductionMethod, forKey: .dimensionalityReductionMethod)
        try c.encode(coordinatesDimension1, forKey: .coordinatesDimension1)
        try c.encode(coordinatesDimension2, forKey: .coordinatesDimension2)
    }
}
