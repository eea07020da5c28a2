// Sample DTOs (docs/openapi.yaml, docs/protocol.md §7).

/// `SampleData` (docs/openapi.yaml). `metaData`, `exif` and `customMetaData` are returned exactly as
/// the client sent them. `type` is not in 1.1.x but 1.2.10+ require it: always `"IMAGE"`.
public struct SampleData: Codable, Hashable, Sendable {
    public var id: String
    public var type: SampleType
    public var datasetId: String?
    public var fileName: String
    public var thumbName: String?
    public var exif: JSONValue?
    public var metaData: JSONValue?
    public var customMetaData: JSONValue?
    public var index: Int?
    public var createdAt: Int64?
    public var lastModifiedAt: Int64?

    public init(id: String, type: SampleType = .image, datasetId: String? = nil, fileName: String,
                thumbName: String? = nil, exif: JSONValue? = nil, metaData: JSONValue? = nil,
                customMetaData: JSONValue? = nil, index: Int? = nil, createdAt: Int64? = nil,
                lastModifiedAt: Int64? = nil) {
        self.id = id; self.type = type; self.datasetId = datasetId; self.fileName = fileName
        self.thumbName = thumbName; self.exif = exif; self.metaData = metaData
        self.customMetaData = customMetaData; self.index = index
        self.createdAt = createdAt; self.lastModifiedAt = lastModifiedAt
    }
}

/// `SampleCreateRequest` (docs/openapi.yaml). `metaData` carries snake_case keys too
/// (`is_corrupted`); it is stored verbatim.
public struct SampleCreateRequest: Codable, Hashable, Sendable {
    public var fileName: String
    public var thumbName: String?
    public var metaData: JSONValue?
    public var exif: JSONValue?
    public var customMetaData: JSONValue?

    public init(fileName: String, thumbName: String? = nil, metaData: JSONValue? = nil,
                exif: JSONValue? = nil, customMetaData: JSONValue? = nil) {
        self.fileName = fileName; self.thumbName = thumbName; self.metaData = metaData
        self.exif = exif; self.customMetaData = customMetaData
    }
}

/// `SampleUpdateRequest` (`PUT .../samples/{id}`): every field optional; the client sends
/// only `customMetaData`. A field that is present replaces the stored one.
public struct SampleUpdateRequest: Codable, Hashable, Sendable {
    public var fileName: String?
    public var thumbName: String?
    public var exif: JSONValue?
    public var metaData: JSONValue?
    public var customMetaData: JSONValue?

    public init(fileName: String? = nil, thumbName: String? = nil, exif: JSONValue? = nil,
                metaData: JSONValue? = nil, customMetaData: JSONValue? = nil) {
        self.fileName = fileName; self.thumbName = thumbName; self.exif = exif
        self.metaData = metaData; self.customMetaData = customMetaData
    }
}

/// `SampleWriteUrls` (1.1.14+): signed PUT URLs for the full image and the thumbnail.
public struct SampleWriteUrls: Codable, Hashable, Sendable {
    public var full: String
    public var thumb: String
    public init(full: String, thumb: String) { self.full = full; self.thumb = thumb }
}

/// The `mode` of `GET /v1/datasets/{id}/samples/partial` (1.2.26+).
public struct SamplePartialMode: WireEnum {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    /// Only `id`.
    public static let ids: Self = "ids"
    /// `id` and `fileName` (what `upload_dataset` and `upload_custom_metadata` ask for).
    public static let fileNames: Self = "fileNames"
    /// Every field of `SampleData`.
    public static let full: Self = "full"
    public static let known: Set<SamplePartialMode> = [.ids, .fileNames, .full]
}

/// `SampleDataModes`: a `SampleData` of which only `id` is required; which fields are
/// present depends on the `SamplePartialMode`.
public struct SampleDataModes: Codable, Hashable, Sendable {
    public var id: String
    public var type: SampleType?
    public var datasetId: String?
    public var fileName: String?
    public var thumbName: String?
    public var exif: JSONValue?
    public var index: Int?
    public var createdAt: Int64?
    public var lastModifiedAt: Int64?
    public var metaData: JSONValue?
    public var customMetaData: JSONValue?

    /// The fields of `sample` that `mode` selects.
    public init(_ sample: SampleData, mode: SamplePartialMode) {
        id = sample.id
        switch mode {
        case .ids:
            break
        case .fileNames:
            fileName = sample.fileName
        default:
            type = sample.type; datasetId = sample.datasetId; fileName = sample.fileName
            thumbName = sample.thumbName; exif = sample.exif; index = sample.index
            createdAt = sample.createdAt; lastModifiedAt = sample.lastModifiedAt
            metaData = sample.metaData; customMetaData = sample.customMetaData
        }
    }
}

/// The keys of the strict releases' `SampleMetaData` (1.4.8+). Older clients upload more keys
/// (`is_corrupted`, `corruption`); they stay stored, and a route the strict releases read
/// (`samples/partial`, export meta info) sends only these.
public let sampleMetaDataAllowedKeys: Set<String> = [
    "custom", "dynamic", "sharpness", "luminance", "sizeInBytes", "snr", "uniformRowRatio",
    "mean", "shape", "std", "sumOfSquares", "sumOfValues",
]

extension SampleData {
    /// This sample with `metaData` cut to ``sampleMetaDataAllowedKeys`` (order kept).
    public var strictMetaData: SampleData {
        var s = self
        if case .object(let o)? = metaData {
            s.metaData = .object(JSONObject(members: o.members.filter { sampleMetaDataAllowedKeys.contains($0.key) }))
        }
        return s
    }
}
