// Dataset, quota and version DTOs (docs/openapi.yaml, docs/protocol.md §12).
// Timestamps are Int64 Unix epoch milliseconds (docs/protocol.md §3). Optional fields are omitted
// from the JSON when nil (synthesized `encodeIfPresent`).

/// `CreateEntityResponse`: the answer to every "create" call.
public struct CreateEntityResponse: Codable, Hashable, Sendable {
    public var id: String
    public init(id: String) { self.id = id }
}

/// `DatasetData` (docs/openapi.yaml). `userId` is not in the 1.1.x model but 1.2.10+ require it,
/// so it is always sent.
public struct DatasetData: Codable, Hashable, Sendable {
    public var id: String
    public var name: String
    public var userId: String
    public var type: DatasetType
    public var imgType: ImageType?
    public var nSamples: Int
    public var sizeInBytes: Int
    public var metaDataConfigurationId: String?
    public var createdAt: Int64
    public var lastModifiedAt: Int64

    public init(id: String, name: String, userId: String, type: DatasetType = .images, imgType: ImageType? = nil,
                nSamples: Int, sizeInBytes: Int, metaDataConfigurationId: String? = nil,
                createdAt: Int64, lastModifiedAt: Int64) {
        self.id = id; self.name = name; self.userId = userId; self.type = type; self.imgType = imgType
        self.nSamples = nSamples; self.sizeInBytes = sizeInBytes
        self.metaDataConfigurationId = metaDataConfigurationId
        self.createdAt = createdAt; self.lastModifiedAt = lastModifiedAt
    }
}

/// `DatasetDataEnriched` (`GET /v1/datasets/enriched`): the ``DatasetData`` fields plus the
/// dataset's sample ids in mapping order and its numbers of tags and embeddings, all three
/// required by the strict clients (1.4.8+).
public struct DatasetDataEnriched: Codable, Hashable, Sendable {
    public var id: String
    public var name: String
    public var userId: String
    public var type: DatasetType
    public var imgType: ImageType?
    public var nSamples: Int
    public var sizeInBytes: Int
    public var metaDataConfigurationId: String?
    public var createdAt: Int64
    public var lastModifiedAt: Int64
    /// The sample ids, in mapping order.
    public var samples: [String]
    public var nTags: Int
    public var nEmbeddings: Int

    /// `dataset` enriched with its sample ids and counts.
    public init(_ dataset: DatasetData, samples: [String], nTags: Int, nEmbeddings: Int) {
        id = dataset.id; name = dataset.name; userId = dataset.userId; type = dataset.type; imgType = dataset.imgType
        nSamples = dataset.nSamples; sizeInBytes = dataset.sizeInBytes
        metaDataConfigurationId = dataset.metaDataConfigurationId
        createdAt = dataset.createdAt; lastModifiedAt = dataset.lastModifiedAt
        self.samples = samples; self.nTags = nTags; self.nEmbeddings = nEmbeddings
    }
}

/// `DatasetCreateRequest`: only `name` is ever sent by the client.
public struct DatasetCreateRequest: Codable, Hashable, Sendable {
    public var name: String
    public var type: DatasetType?
    public var imgType: ImageType?
    public init(name: String, type: DatasetType? = nil, imgType: ImageType? = nil) {
        self.name = name; self.type = type; self.imgType = imgType
    }
}

/// `DatasetUpdateRequest` (`PUT /v1/datasets/{id}`): rename.
public struct DatasetUpdateRequest: Codable, Hashable, Sendable {
    public var name: String
    public init(name: String) { self.name = name }
}

/// `JobStatusMeta`: a sub-object of `JobStatusData`, and the body of `registerDatasetUpload`.
/// When present in a response, `total` and `processed` are required (the generated client rejects a `meta` without them).
public struct JobStatusMeta: Codable, Hashable, Sendable {
    public var total: Int
    public var processed: Int
    public var uploadMethod: JobStatusUploadMethod?
    public var isRegistered: Bool?
    public init(total: Int, processed: Int, uploadMethod: JobStatusUploadMethod? = nil, isRegistered: Bool? = nil) {
        self.total = total; self.processed = processed; self.uploadMethod = uploadMethod; self.isRegistered = isRegistered
    }
}

/// The legacy `GET /users/quota` answer (1.1.0–1.1.1): `{"maxDatasetSize": N}`.
public struct LegacyQuotaResponse: Codable, Hashable, Sendable {
    public var maxDatasetSize: Int
    public init(maxDatasetSize: Int) { self.maxDatasetSize = maxDatasetSize }
}

/// `GET /health`: `{"status": "ok"}`.
public struct HealthResponse: Codable, Hashable, Sendable {
    public var status: String
    public init(status: String = "ok") { self.status = status }
}
