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

/// The tag-arithmetics answer: both `bitMaskData` (`TagBitMaskResponse`, read by
/// 1.1.6–1.1.18) and `id` (`CreateEntityResponse`, read by 1.1.19+), docs/protocol.md §5.
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
