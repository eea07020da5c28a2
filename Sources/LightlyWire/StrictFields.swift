// Field sets of the response models of the strict `lightly` releases.
//
// From 1.4.8 on, the client's generated models are pydantic models that reject any field they
// do not define (`extra = "forbid"`), and require some fields to be present. The sets below are
// those of the releases 1.4.8 … 1.5.26 (identical in every one of them); the server sends no
// other key, and `Tests/LightlyAPITests/StrictFieldsTests.swift` checks every response type
// against its set. Older releases ignore unknown keys, so the strict sets decide.

/// A response type whose JSON keys must stay within what every strict client model defines.
public protocol StrictWireFields {
    /// The JSON keys the strict client models define (camelCase, as on the wire).
    static var allowedFields: Set<String> { get }
    /// The keys the strict client models require. A key listed in ``nullableRequiredFields``
    /// must be present but may be `null`; the others must be present and non-null.
    static var requiredFields: Set<String> { get }
    /// Required keys whose value may be `null` (pydantic `Optional[...] = Field(...)`).
    static var nullableRequiredFields: Set<String> { get }
}

extension StrictWireFields {
    public static var nullableRequiredFields: Set<String> { [] }
}

extension CreateEntityResponse: StrictWireFields {
    public static let allowedFields: Set<String> = ["id"]
    public static let requiredFields: Set<String> = ["id"]
}

extension DatasetData: StrictWireFields {
    public static let allowedFields: Set<String> = [
        "id", "name", "userId", "accessType", "type", "imgType", "nSamples", "sizeInBytes",
        "metaDataConfigurationId", "datasources", "createdAt", "lastModifiedAt",
        "datasourceProcessedUntilTimestamp", "accessRole", "parentDatasetId", "originalDatasetId",
    ]
    public static let requiredFields: Set<String> = [
        "id", "name", "userId", "type", "nSamples", "sizeInBytes", "createdAt", "lastModifiedAt",
    ]
}

extension DatasetDataEnriched: StrictWireFields {
    public static let allowedFields: Set<String> = [
        "id", "name", "userId", "accessType", "type", "imgType", "nSamples", "sizeInBytes", "createdAt",
        "lastModifiedAt", "metaDataConfigurationId", "accessRole", "datasources", "parentDatasetId",
        "originalDatasetId", "samples", "nTags", "nEmbeddings",
    ]
    public static let requiredFields: Set<String> = [
        "id", "name", "userId", "type", "nSamples", "sizeInBytes", "createdAt", "lastModifiedAt",
        "samples", "nTags", "nEmbeddings",
    ]
}

/// Shared by `SampleData` and `SampleDataModes`.
let sampleAllowedFields: Set<String> = [
    "id", "type", "datasetId", "fileName", "thumbName", "exif", "index", "createdAt", "lastModifiedAt",
    "metaData", "customMetaData", "videoFrameData", "cropData",
]

extension SampleData: StrictWireFields {
    public static let allowedFields: Set<String> = sampleAllowedFields
    public static let requiredFields: Set<String> = ["id", "type", "fileName"]
}

extension SampleDataModes: StrictWireFields {
    public static let allowedFields: Set<String> = sampleAllowedFields
    public static let requiredFields: Set<String> = ["id"]
}

extension SampleWriteUrls: StrictWireFields {
    public static let allowedFields: Set<String> = ["full", "thumb"]
    public static let requiredFields: Set<String> = ["full", "thumb"]
}

extension TagData: StrictWireFields {
    /// No `creator` (the strict `TagData` lacks it: 1.5.26 raised "additional fields" on every
    /// tag list once a sampler tag existed) and no `changes` (a list of `TagChangeEntry` for
    /// 1.4.7+, a `TagChangeData` object before: no one shape suits every release, and it is
    /// optional everywhere).
    public static let allowedFields: Set<String> = [
        "id", "datasetId", "prevTagId", "queryTagId", "preselectedTagId", "name", "bitMaskData",
        "totSize", "createdAt", "lastModifiedAt", "changes", "runId",
    ]
    public static let requiredFields: Set<String> = [
        "id", "datasetId", "prevTagId", "name", "bitMaskData", "totSize", "createdAt",
    ]
    public static let nullableRequiredFields: Set<String> = ["prevTagId"]
}

extension TagBitMaskResponse: StrictWireFields {
    public static let allowedFields: Set<String> = ["bitMaskData"]
    public static let requiredFields: Set<String> = ["bitMaskData"]
}

extension JobStatusMeta: StrictWireFields {
    public static let allowedFields: Set<String> = ["total", "processed", "uploadMethod", "isRegistered"]
    public static let requiredFields: Set<String> = ["total", "processed"]
}

extension AsyncTaskData: StrictWireFields {
    public static let allowedFields: Set<String> = ["jobId"]
    public static let requiredFields: Set<String> = ["jobId"]
}

extension JobStatusDataResult: StrictWireFields {
    public static let allowedFields: Set<String> = ["type", "data"]
    public static let requiredFields: Set<String> = ["type"]
}

extension JobStatusData: StrictWireFields {
    public static let allowedFields: Set<String> = [
        "id", "datasetId", "status", "meta", "waitTimeTillNextPoll", "createdAt", "lastModifiedAt",
        "finishedAt", "error", "result",
    ]
    public static let requiredFields: Set<String> = ["id", "status", "waitTimeTillNextPoll", "createdAt"]
}

extension ActiveLearningScoreData: StrictWireFields {
    public static let allowedFields: Set<String> = ["id", "tagId", "scoreType", "scores", "createdAt"]
    public static let requiredFields: Set<String> = ["id", "tagId", "scoreType", "scores", "createdAt"]
}

extension DatasetEmbeddingData: StrictWireFields {
    public static let allowedFields: Set<String> = ["id", "name", "isProcessed", "createdAt", "is2d"]
    public static let requiredFields: Set<String> = ["id", "name", "isProcessed", "createdAt"]
}

extension WriteCSVUrlData: StrictWireFields {
    public static let allowedFields: Set<String> = ["signedWriteUrl", "embeddingId"]
    public static let requiredFields: Set<String> = ["signedWriteUrl", "embeddingId"]
}

extension Embedding2dData: StrictWireFields {
    /// No `computedWith` (not in the strict model).
    public static let allowedFields: Set<String> = [
        "id", "datasetId", "embeddingId", "name", "createdAt", "dimensionalityReductionMethod",
        "coordinatesDimension1", "coordinatesDimension2",
    ]
    public static let requiredFields: Set<String> = [
        "id", "datasetId", "embeddingId", "name", "createdAt", "dimensionalityReductionMethod",
    ]
}

extension LabelStudioTaskData: StrictWireFields {
    public static let allowedFields: Set<String> = ["image", "lightlyFileName", "lightlyMetaInfo"]
    public static let requiredFields: Set<String> = ["image"]
}

extension LabelStudioTask: StrictWireFields {
    public static let allowedFields: Set<String> = ["id", "data"]
    public static let requiredFields: Set<String> = ["id", "data"]
}

extension LabelBoxDataRow: StrictWireFields {
    public static let allowedFields: Set<String> = ["externalId", "imageUrl"]
    public static let requiredFields: Set<String> = ["externalId", "imageUrl"]
}

extension LabelBoxV4DataRow: StrictWireFields {
    public static let allowedFields: Set<String> = ["row_data", "global_key", "media_type"]
    public static let requiredFields: Set<String> = ["row_data"]
}
