#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LightlyCore

import LightlyWire

// Typed views of the domain rows (migrations/0001_initial.sql) and their wire forms.

/// A row of `datasets`.
public struct DatasetRow: Sendable, Hashable {
    public var id: String
    public var userId: String
    public var name: String
    public var type: String
    public var imgType: String?
    public var nSamples: Int
    public var sizeInBytes: Int
    public var createdAt: Int64
    public var lastModifiedAt: Int64

    public static let columns = "id, user_id, name, type, img_type, n_samples, size_in_bytes, created_at, last_modified_at"

    public init(row: Row) throws {
        id = try row.string("id"); userId = try row.string("user_id"); name = try row.string("name")
        type = try row.string("type"); imgType = try row.stringOrNil("img_type")
        nSamples = try row.int("n_samples"); sizeInBytes = try row.int("size_in_bytes")
        createdAt = try row.int64("created_at"); lastModifiedAt = try row.int64("last_modified_at")
    }

    public var wire: DatasetData {
        DatasetData(id: id, name: name, userId: userId, type: DatasetType(rawValue: type),
                    imgType: imgType.map(ImageType.init(rawValue:)), nSamples: nSamples,
                    sizeInBytes: sizeInBytes, createdAt: createdAt, lastModifiedAt: lastModifiedAt)
    }
}

/// A row of `samples`.
public struct SampleRow: Sendable, Hashable {
    public var id: String
    public var datasetId: String
    public var idx: Int
    public var fileName: String
    public var thumbName: String?
    public var metaData: String?
    public var exif: String?
    public var customMetaData: String?
    public var sizeInBytes: Int
    public var fullBlobId: String?
    public var thumbBlobId: String?
    public var createdAt: Int64
    public var lastModifiedAt: Int64

    public static let columns = "id, dataset_id, idx, file_name, thumb_name, meta_data, exif, custom_meta_data, size_in_bytes, full_blob_id, thumb_blob_id, created_at, last_modified_at"

    public init(row: Row) throws {
        id = try row.string("id"); datasetId = try row.string("dataset_id"); idx = try row.int("idx")
        fileName = try row.string("file_name"); thumbName = try row.stringOrNil("thumb_name")
        metaData = try row.stringOrNil("meta_data"); exif = try row.stringOrNil("exif")
        customMetaData = try row.stringOrNil("custom_meta_data"); sizeInBytes = try row.int("size_in_bytes")
        fullBlobId = try row.stringOrNil("full_blob_id"); thumbBlobId = try row.stringOrNil("thumb_blob_id")
        createdAt = try row.int64("created_at"); lastModifiedAt = try row.int64("last_modified_at")
    }

    /// Wire form. Stored JSON that no longer parses (cannot happen for rows we wrote) is
    /// dropped rather than failing the whole listing.
    public var wire: SampleData {
        SampleData(id: id, type: .image, datasetId: datasetId, fileName: fileName, thumbName: thumbName,
                   exif: exif.flatMap { try? JSONValue.parse($0) },
                   metaData: metaData.flatMap { try? JSONValue.parse($0) },
                   customMetaData: customMetaData.flatMap { try? JSONValue.parse($0) },
                   index: idx, createdAt: createdAt, lastModifiedAt: lastModifiedAt)
    }
}

/// A row of `tags`.
public struct TagRow: Sendable, Hashable {
    public var id: String
    public var datasetId: String
    public var seq: Int
    public var name: String
    public var prevTagId: String?
    public var queryTagId: String?
    public var preselectedTagId: String?
    public var bitmask: BitMask
    public var totSize: Int
    public var creator: String?
    public var changes: String?
    public var createdAt: Int64
    public var lastModifiedAt: Int64

    public static let columns = "id, dataset_id, seq, name, prev_tag_id, query_tag_id, preselected_tag_id, bitmask, tot_size, creator, changes, created_at, last_modified_at"

    public init(row: Row) throws {
        id = try row.string("id"); datasetId = try row.string("dataset_id"); seq = try row.int("seq")
        name = try row.string("name"); prevTagId = try row.stringOrNil("prev_tag_id")
        queryTagId = try row.stringOrNil("query_tag_id"); preselectedTagId = try row.stringOrNil("preselected_tag_id")
        bitmask = BitMask(storageBytes: try row.blob("bitmask")); totSize = try row.int("tot_size")
        creator = try row.stringOrNil("creator"); changes = try row.stringOrNil("changes")
        createdAt = try row.int64("created_at"); lastModifiedAt = try row.int64("last_modified_at")
    }

    public var wire: TagData {
        TagData(id: id, datasetId: datasetId, prevTagId: prevTagId, queryTagId: queryTagId,
                preselectedTagId: preselectedTagId, name: name, bitMaskData: bitmask.hexString,
                totSize: totSize, creator: creator.map(TagCreator.init(rawValue:)), createdAt: createdAt,
                lastModifiedAt: lastModifiedAt, changes: changes.flatMap { try? JSONValue.parse($0) } ?? .object([:]))
    }
}

extension BitMask {
    /// Decodes the `tags.bitmask` column: little-endian 64-bit words.
    public init(storageBytes b: [UInt8]) {
        var words = [UInt64]()
        words.reserveCapacity((b.count + 7) / 8)
        var i = 0
        while i < b.count {
            var w: UInt64 = 0
            for j in 0..<min(8, b.count - i) { w |= UInt64(b[i + j]) << UInt64(8 * j) }
            words.append(w)
            i += 8
        }
        self.init(words: words)
    }

    /// Encodes for the `tags.bitmask` column: little-endian 64-bit words.
    public var storageBytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(words.count * 8)
        for w in words { for j in 0..<8 { out.append(UInt8(truncatingIfNeeded: w >> UInt64(8 * j))) } }
        return out
    }
}
