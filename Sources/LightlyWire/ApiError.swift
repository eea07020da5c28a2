// The error body of every non-2xx answer (docs/protocol.md §4).

/// `ApiErrorCode` (docs/protocol.md §4): the union over 1.1.x; later versions only add values.
public struct ApiErrorCode: WireEnum {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let badRequest: Self = "BAD_REQUEST"
    public static let notImplemented: Self = "NOT_IMPLEMENTED"
    public static let forbidden: Self = "FORBIDDEN"
    public static let unauthorized: Self = "UNAUTHORIZED"
    public static let notFound: Self = "NOT_FOUND"
    public static let malformedRequest: Self = "MALFORMED_REQUEST"
    public static let malformedResponse: Self = "MALFORMED_RESPONSE"
    public static let jobCreationFailed: Self = "JOB_CREATION_FAILED"
    public static let jobUnknown: Self = "JOB_UNKNOWN"
    public static let userNotKnown: Self = "USER_NOT_KNOWN"
    public static let userAccountDeactivated: Self = "USER_ACCOUNT_DEACTIVATED"
    public static let userAccountBlocked: Self = "USER_ACCOUNT_BLOCKED"
    public static let teamAccountPlanInsufficient: Self = "TEAM_ACCOUNT_PLAN_INSUFFICIENT"
    public static let datasetUnknown: Self = "DATASET_UNKNOWN"
    public static let datasetTagInvalid: Self = "DATASET_TAG_INVALID"
    public static let datasetNameExists: Self = "DATASET_NAME_EXISTS"
    public static let datasetAtMaxCapacity: Self = "DATASET_AT_MAX_CAPACITY"
    public static let datasetDatasourceUnknown: Self = "DATASET_DATASOURCE_UNKNOWN"
    public static let datasetDatasourceCredentialsError: Self = "DATASET_DATASOURCE_CREDENTIALS_ERROR"
    public static let datasetDatasourceInvalid: Self = "DATASET_DATASOURCE_INVALID"
    public static let embeddingUnknown: Self = "EMBEDDING_UNKNOWN"
    public static let embeddingNameExists: Self = "EMBEDDING_NAME_EXISTS"
    public static let embeddingInvalid: Self = "EMBEDDING_INVALID"
    public static let embeddingNotReady: Self = "EMBEDDING_NOT_READY"
    public static let embeddingRowCountUnknown: Self = "EMBEDDING_ROW_COUNT_UNKNOWN"
    public static let embeddingRowCountInvalid: Self = "EMBEDDING_ROW_COUNT_INVALID"
    public static let embedding2dUnknown: Self = "EMBEDDING_2D_UNKNOWN"
    public static let tagUnknown: Self = "TAG_UNKNOWN"
    public static let tagNameExists: Self = "TAG_NAME_EXISTS"
    public static let tagInitialExists: Self = "TAG_INITIAL_EXISTS"
    public static let tagUndeletableNotALeaf: Self = "TAG_UNDELETABLE_NOT_A_LEAF"
    public static let tagUndeletableIsInitial: Self = "TAG_UNDELETABLE_IS_INITIAL"
    public static let tagNoTagInDataset: Self = "TAG_NO_TAG_IN_DATASET"
    /// Spelled `TAG_PREVTAG_NOT_OF_DATASET` by 1.1.0–1.1.12; we send the newer spelling.
    public static let tagPrevtagNotInDataset: Self = "TAG_PREVTAG_NOT_IN_DATASET"
    public static let tagQuerytagNotInDataset: Self = "TAG_QUERYTAG_NOT_IN_DATASET"
    public static let tagPreselectedtagNotInDataset: Self = "TAG_PRESELECTEDTAG_NOT_IN_DATASET"
    public static let sampleUnknown: Self = "SAMPLE_UNKNOWN"
    public static let sampleThumbnameUnknown: Self = "SAMPLE_THUMBNAME_UNKNOWN"
    public static let scoreUnknown: Self = "SCORE_UNKNOWN"
    public static let dockerRunUnknown: Self = "DOCKER_RUN_UNKNOWN"
    public static let metadataConfigurationUnknown: Self = "METADATA_CONFIGURATION_UNKNOWN"
    public static let customMetadataAtMaxSize: Self = "CUSTOM_METADATA_AT_MAX_SIZE"
}

/// `ApiErrorResponse` (docs/protocol.md §4): `{"code": ..., "message": ...}`, both required.
public struct ApiErrorResponse: Codable, Hashable, Sendable {
    public var code: ApiErrorCode
    public var message: String
    public init(code: ApiErrorCode, message: String) { self.code = code; self.message = message }
}

extension ApiErrorCode {
    /// Not in the Lightly list: an unexpected server-side failure (500). The 1.1.x client
    /// never parses codes, so an extra value is harmless.
    public static let internalError: Self = "INTERNAL_ERROR"
    /// Not in the Lightly list: a known path called with the wrong method (405).
    public static let methodNotAllowed: Self = "METHOD_NOT_ALLOWED"
    /// Not in the Lightly list: a request body above the configured limit (413).
    public static let payloadTooLarge: Self = "PAYLOAD_TOO_LARGE"
    /// Not in the Lightly list: the server's disk (or quota) is full (507); nothing was changed.
    public static let insufficientStorage: Self = "INSUFFICIENT_STORAGE"
    /// Not in the Lightly list: an uploaded embedding matrix (rows × dimension × 4 bytes) is
    /// larger than the server's memory budget (413); nothing was stored.
    public static let embeddingTooLarge: Self = "EMBEDDING_TOO_LARGE"
    /// Not in the Lightly list: the database stayed locked past the busy timeout (503); retry.
    public static let serviceUnavailable: Self = "SERVICE_UNAVAILABLE"
}

extension ApiErrorCode {
    /// Not in the Lightly list: a sample with this `fileName` already exists in the dataset (409).
    public static let sampleFileNameExists: Self = "SAMPLE_FILENAME_EXISTS"
}
