// Tag DTOs (docs/openapi.yaml, docs/protocol.md §5). Bitmasks are canonical hex strings (docs/protocol.md §5).

/// `TagData` (docs/openapi.yaml). All tags of a dataset carry `totSize` = the current sample count.
public struct TagData: Codable, Hashable, Sendable {
    public var id: String
    public var datasetId: String
    public var prevTagId: String?
    public var queryTagId: String?
    public var preselectedTagId: String?
    public var name: String
    public var bitMaskData: String
    public var totSize: Int
    public var creator: TagCreator?
    public var createdAt: Int64
    public var lastModifiedAt: Int64?
    public var changes: JSONValue?

    public init(id: String, datasetId: String, prevTagId: String? = nil, queryTagId: String? = nil,
                preselectedTagId: String? = nil, name: String, bitMaskData: String, totSize: Int,
                creator: TagCreator? = nil, createdAt: Int64, lastModifiedAt: Int64? = nil,
                changes: JSONValue? = nil) {
        self.id = id; self.datasetId = datasetId; self.prevTagId = prevTagId
        self.queryTagId = queryTagId; self.preselectedTagId = preselectedTagId; self.name = name
        self.bitMaskData = bitMaskData; self.totSize = totSize; self.creator = creator
        self.createdAt = createdAt; self.lastModifiedAt = lastModifiedAt; self.changes = changes
    }

    private enum CodingKeys: String, CodingKey {
        case id, datasetId, prevTagId, queryTagId, preselectedTagId, name, bitMaskData, totSize
        case creator, createdAt, lastModifiedAt, changes
    }

    /// Only the keys every strict release's `TagData` defines (see ``allowedFields``):
    /// `prevTagId` always (`null` for the initial tag: required there), never `creator` or
    /// `changes` (they stay stored and readable by decoding).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(datasetId, forKey: .datasetId)
        try c.encode(prevTagId, forKey: .prevTagId)
        try c.encodeIfPresent(queryTagId, forKey: .queryTagId)
        try c.encodeIfPresent(preselectedTagId, forKey: .preselectedTagId)
        try c.encode(name, forKey: .name)
        try c.encode(bitMaskData, forKey: .bitMaskData)
        try c.encode(totSize, forKey: .totSize)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encodeIfPresent(lastModifiedAt, forKey: .lastModifiedAt)
    }
}

/// `InitialTagCreateRequest`: `imgType` always; `creator` from 1.1.2; `name` never sent
/// (the tag is always named `initial-tag`).
public struct InitialTagCreateRequest: Codable, Hashable, Sendable {
    public var imgType: ImageType
    public var creator: TagCreator?
    public var name: String?
    public init(imgType: ImageType, creator: TagCreator? = nil, name: String? = nil) {
        self.imgType = imgType; self.creator = creator; self.name = name
    }
}

/// `TagUpsizeRequest` (1.1.22+).
public struct TagUpsizeRequest: Codable, Hashable, Sendable {
    public var upsizeTagName: String
    public var upsizeTagCreator: TagCreator
    public init(upsizeTagName: String, upsizeTagCreator: TagCreator) {
        self.upsizeTagName = upsizeTagName; self.upsizeTagCreator = upsizeTagCreator
    }
}

/// `TagArithmeticsRequest` (1.1.6+).
public struct TagArithmeticsRequest: Codable, Hashable, Sendable {
    public var tagId1: String
    public var tagId2: String
    public var operation: TagArithmeticsOperation
    public var newTagName: String?
    public var creator: TagCreator?
    public init(tagId1: String, tagId2: String, operation: TagArithmeticsOperation,
                newTagName: String? = nil, creator: TagCreator? = nil) {
        self.tagId1 = tagId1; self.tagId2 = tagId2; self.operation = operation
        self.newTagName = newTagName; self.creator = creator
    }
}

/// The tag-arithmetics answer to the non-strict clients: both `bitMaskData`
/// (`TagBitMaskResponse`, read by 1.1.6–1.1.18) and `id` (`CreateEntityResponse`, read by
/// 1.1.19+), docs/protocol.md §5. The strict releases (1.4.8+) get only one of the two shapes.
public struct TagArithmeticsResponse: Codable, Hashable, Sendable {
    public var bitMaskData: String
    public var id: String
    public init(bitMaskData: String, id: String) { self.bitMaskData = bitMaskData; self.id = id }
}

/// `TagBitMaskResponse` (the 1.1.6–1.1.18 reading of the arithmetics answer).
public struct TagBitMaskResponse: Codable, Hashable, Sendable {
    public var bitMaskData: String
    public init(bitMaskData: String) { self.bitMaskData = bitMaskData }
}

/// `TagCreateRequest` (`POST .../tags`; used by 1.2.x).
public struct TagCreateRequest: Codable, Hashable, Sendable {
    public var name: String
    public var prevTagId: String
    public var bitMaskData: String
    public var totSize: Int
    public var creator: TagCreator?
    public var changes: JSONValue?
    public var queryTagId: String?
    public var preselectedTagId: String?
    public init(name: String, prevTagId: String, bitMaskData: String, totSize: Int,
                creator: TagCreator? = nil, changes: JSONValue? = nil,
                queryTagId: String? = nil, preselectedTagId: String? = nil) {
        self.name = name; self.prevTagId = prevTagId; self.bitMaskData = bitMaskData
        self.totSize = totSize; self.creator = creator; self.changes = changes
        self.queryTagId = queryTagId; self.preselectedTagId = preselectedTagId
    }
}

/// `TagUpdateRequest` (1.1.22+): rename.
public struct TagUpdateRequest: Codable, Hashable, Sendable {
    public var name: String
    public init(name: String) { self.name = name }
}

// MARK: - Exports

/// `LabelStudioTaskData`: the image's read URL, its file name and (with
/// `includeMetaData=True`) the sample.
public struct LabelStudioTaskData: Codable, Hashable, Sendable {
    public var image: String
    public var lightlyFileName: String?
    public var lightlyMetaInfo: SampleData?
    public init(image: String, lightlyFileName: String? = nil, lightlyMetaInfo: SampleData? = nil) {
        self.image = image; self.lightlyFileName = lightlyFileName; self.lightlyMetaInfo = lightlyMetaInfo
    }
}

/// `LabelStudioTask`: one sample of a Label Studio export; `id` is its mapping index.
public struct LabelStudioTask: Codable, Hashable, Sendable {
    public var id: Int
    public var data: LabelStudioTaskData
    public init(id: Int, data: LabelStudioTaskData) { self.id = id; self.data = data }
}

/// `LabelBoxDataRow` (Labelbox v3): `externalId` = file name, `imageUrl` = read URL.
public struct LabelBoxDataRow: Codable, Hashable, Sendable {
    public var externalId: String
    public var imageUrl: String
    public init(externalId: String, imageUrl: String) { self.externalId = externalId; self.imageUrl = imageUrl }
}

/// `LabelBoxV4DataRow` (snake_case keys, as Labelbox wants them).
public struct LabelBoxV4DataRow: Codable, Hashable, Sendable {
    public var row_data: String
    public var global_key: String?
    public var media_type: String?
    public init(rowData: String, globalKey: String? = nil, mediaType: String? = "IMAGE") {
        row_data = rowData; global_key = globalKey; media_type = mediaType
    }
}

/// One element of `FilenameAndReadUrls` (1.2.29–1.2.41).
public struct FilenameAndReadUrl: Codable, Hashable, Sendable {
    public var fileName: String
    public var readUrl: String
    public init(fileName: String, readUrl: String) { self.fileName = fileName; self.readUrl = readUrl }
}

/// `fileNameFormat` of `…/export/basic/filenames`.
public struct FileNameFormat: WireEnum {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    /// The sample's file name.
    public static let name: Self = "NAME"
    /// A signed read URL of the full image.
    public static let redirectedReadURL: Self = "REDIRECTED_READ_URL"
    /// The path in the datasource; this server has no external datasource, so the file name.
    public static let datasourceFull: Self = "DATASOURCE_FULL"
    public static let known: Set<FileNameFormat> = [.name, .redirectedReadURL, .datasourceFull]
}
