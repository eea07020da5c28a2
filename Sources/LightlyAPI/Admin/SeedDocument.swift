import LightlyCore
import LightlyStorage
import LightlyWire

/// The document of `POST /_admin/seed` and `GET /_admin/snapshot` (docs/admin.md,
/// docs/admin-seed.schema.json), validated: every structural rule of the JSON Schema is checked
/// here, with the failing location in the error (`datasets[0].samples[3].fileName: …`).
/// Cross-references (owners, file names of tags, parent tags, sizes) are checked by
/// ``AdminSeeder``, which also knows the existing users.
public struct SeedDocument: Sendable, Equatable {
    public struct Token: Sendable, Equatable {
        public var path: String
        public var name: String?
        /// `lt_…` in plain text, or nil when `sha256` is given.
        public var token: String?
        /// The SHA-256 of the token, 32 bytes.
        public var sha256: [UInt8]?
        public var createdAt: Int64?
        public var revokedAt: Int64?
    }
    public struct User: Sendable, Equatable {
        public var path: String
        public var id: String?
        public var name: String
        public var email: String?
        public var createdAt: Int64?
        public var tokens: [Token]
    }
    public struct Share: Sendable, Equatable {
        public var id: String?
        public var emails: [String]
        public var createdAt: Int64?
        public var lastModifiedAt: Int64?
    }
    public struct Sample: Sendable, Equatable {
        public var path: String
        public var id: String?
        public var fileName: String
        public var thumbName: String?
        public var metaData: JSONValue?
        public var exif: JSONValue?
        public var customMetaData: JSONValue?
        public var sizeInBytes: Int?
        public var createdAt: Int64?
        public var lastModifiedAt: Int64?
    }
    public struct Embedding: Sendable, Equatable {
        public var path: String
        public var id: String?
        public var name: String
        public var createdAt: Int64?
        /// Row i = sample i (mapping order).
        public var rows: [[Float]]?
        /// A CSV in the `save_embeddings` format (rows matched to samples by file name).
        public var csv: String?
    }
    public struct Score: Sendable, Equatable {
        public var path: String
        public var id: String?
        public var scoreType: String
        public var scores: [Double]
        public var createdAt: Int64?
    }
    public struct Tag: Sendable, Equatable {
        public var path: String
        public var id: String?
        public var name: String
        public var fileNames: [String]
        public var parent: String?
        public var queryTag: String?
        public var preselectedTag: String?
        public var creator: String?
        public var changes: JSONValue?
        public var totSize: Int?
        public var createdAt: Int64?
        public var lastModifiedAt: Int64?
        public var scores: [Score]
    }
    public struct Dataset: Sendable, Equatable {
        public var path: String
        public var id: String?
        public var owner: String
        public var name: String
        public var type: String?
        public var imgType: String?
        public var sizeInBytes: Int?
        public var createdAt: Int64?
        public var lastModifiedAt: Int64?
        public var share: Share?
        public var samples: [Sample]
        public var embeddings: [Embedding]
        public var tags: [Tag]
    }

    public var users: [User]
    public var datasets: [Dataset]

    /// The format version this server reads and writes.
    public static let version: Int64 = 1

    /// Validates and reads a parsed document.
    /// - Throws: 400 `MALFORMED_REQUEST` naming the location of the first problem.
    public init(_ root: JSONValue) throws {
        let r = SeedReader(root, path: "")
        try r.onlyKeys(["version", "users", "datasets"])
        if let v = r["version"] {
            guard v.value.intValue == Self.version else { throw v.fail("unsupported version (this server reads version \(Self.version))") }
        }
        users = try (r["users"]?.array() ?? []).map { u in
            try u.onlyKeys(["id", "name", "email", "createdAt", "tokens"])
            return User(path: u.path, id: try u["id"]?.objectID(), name: try u.require("name").userName(),
                        email: try u["email"]?.nullableString(maxLength: 254),
                        createdAt: try u["createdAt"]?.timestamp(),
                        tokens: try (u["tokens"]?.array() ?? []).map { t in
                            try t.onlyKeys(["name", "token", "sha256", "createdAt", "revokedAt"])
                            let plain = try t["token"]?.string(maxLength: 256)
                            let hash = try t["sha256"]?.sha256()
                            guard (plain == nil) != (hash == nil) else { throw t.fail("give exactly one of token and sha256") }
                            if let plain {
                                guard plain.hasPrefix(TokenStore.prefix), plain.utf8.count >= 11,
                                      plain.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value < 0x7f }) else {
                                    throw t["token"]!.fail("a token is lt_ followed by at least 8 printable ASCII characters")
                                }
                            }
                            return Token(path: t.path, name: try t["name"]?.userName(), token: plain, sha256: hash,
                                         createdAt: try t["createdAt"]?.timestamp(),
                                         revokedAt: try t["revokedAt"]?.nullableTimestamp())
                        })
        }
        datasets = try (r["datasets"]?.array() ?? []).map { d in
            try d.onlyKeys(["id", "owner", "name", "type", "imgType", "sizeInBytes", "createdAt", "lastModifiedAt",
                            "share", "samples", "embeddings", "tags"])
            var share: Share?
            if let s = d["share"], !s.value.isNull {
                try s.onlyKeys(["id", "emails", "createdAt", "lastModifiedAt"])
                share = Share(id: try s["id"]?.objectID(),
                              emails: try s.require("emails").array().map { try $0.string(maxLength: 254) },
                              createdAt: try s["createdAt"]?.timestamp(), lastModifiedAt: try s["lastModifiedAt"]?.timestamp())
            }
            return Dataset(
                path: d.path, id: try d["id"]?.objectID(), owner: try d.require("owner").userName(),
                name: try d.require("name").string(maxLength: 1024),
                type: try d["type"]?.string(maxLength: 64), imgType: try d["imgType"]?.nullableString(maxLength: 64),
                sizeInBytes: try d["sizeInBytes"]?.count(), createdAt: try d["createdAt"]?.timestamp(),
                lastModifiedAt: try d["lastModifiedAt"]?.timestamp(), share: share,
                samples: try (d["samples"]?.array() ?? []).map { s in
                    try s.onlyKeys(["id", "fileName", "thumbName", "metaData", "exif", "customMetaData", "sizeInBytes",
                                    "createdAt", "lastModifiedAt"])
                    return Sample(path: s.path, id: try s["id"]?.objectID(), fileName: try s.require("fileName").string(maxLength: 4096),
                                  thumbName: try s["thumbName"]?.nullableString(maxLength: 4096),
                                  metaData: try s["metaData"]?.nullableObject(), exif: try s["exif"]?.nullableObject(),
                                  customMetaData: s["customMetaData"].flatMap { $0.value.isNull ? nil : $0.value },
                                  sizeInBytes: try s["sizeInBytes"]?.count(), createdAt: try s["createdAt"]?.timestamp(),
                                  lastModifiedAt: try s["lastModifiedAt"]?.timestamp())
                },
                embeddings: try (d["embeddings"]?.array() ?? []).map { e in
                    try e.onlyKeys(["id", "name", "createdAt", "rows", "csv"])
                    let rows = try e["rows"]?.array().map { row in try row.array().map { try $0.float() } }
                    let csv = try e["csv"]?.string(maxLength: Int.max)
                    guard rows == nil || csv == nil else { throw e.fail("give at most one of rows and csv") }
                    return Embedding(path: e.path, id: try e["id"]?.objectID(), name: try e.require("name").string(maxLength: 1024),
                                     createdAt: try e["createdAt"]?.timestamp(), rows: rows, csv: csv)
                },
                tags: try (d["tags"]?.array() ?? []).map { t in
                    try t.onlyKeys(["id", "name", "fileNames", "parent", "queryTag", "preselectedTag", "creator", "changes",
                                    "totSize", "createdAt", "lastModifiedAt", "scores"])
                    return Tag(path: t.path, id: try t["id"]?.objectID(), name: try t.require("name").string(maxLength: 1024),
                               fileNames: try t.require("fileNames").array().map { try $0.string(maxLength: 4096) },
                               parent: try t["parent"]?.nullableString(maxLength: 1024),
                               queryTag: try t["queryTag"]?.nullableString(maxLength: 1024),
                               preselectedTag: try t["preselectedTag"]?.nullableString(maxLength: 1024),
                               creator: try t["creator"]?.nullableString(maxLength: 64),
                               changes: t["changes"].flatMap { $0.value.isNull ? nil : $0.value },
                               totSize: try t["totSize"]?.count(), createdAt: try t["createdAt"]?.timestamp(),
                               lastModifiedAt: try t["lastModifiedAt"]?.timestamp(),
                               scores: try (t["scores"]?.array() ?? []).map { s in
                                   try s.onlyKeys(["id", "scoreType", "scores", "createdAt"])
                                   return Score(path: s.path, id: try s["id"]?.objectID(),
                                                scoreType: try s.require("scoreType").string(maxLength: 256),
                                                scores: try s.require("scores").array().map { try $0.nonNegative() },
                                                createdAt: try s["createdAt"]?.timestamp())
                               })
                })
        }
    }
}

/// A location in the seed document, for reading with an error that names it.
struct SeedReader {
    let value: JSONValue
    let path: String
    /// What the document is, in error messages ("seed document", "faults document").
    let label: String

    init(_ value: JSONValue, path: String, label: String = "seed document") {
        self.value = value; self.path = path; self.label = label
    }

    func fail(_ message: String) -> APIError {
        APIError.malformed("\(label): \(path.isEmpty ? "(top level)" : path): \(message)")
    }

    /// The member `key` of an object (nil when absent).
    subscript(key: String) -> SeedReader? {
        value[key].map { SeedReader($0, path: path.isEmpty ? key : "\(path).\(key)", label: label) }
    }

    func require(_ key: String) throws -> SeedReader {
        guard let v = self[key] else { throw fail("missing \(key)") }
        return v
    }

    /// The value is an object whose keys are all in `allowed`, each once.
    func onlyKeys(_ allowed: Set<String>) throws {
        guard case .object(let o) = value else { throw fail("expected an object") }
        var seen = Set<String>()
        for m in o.members {
            guard allowed.contains(m.key) else { throw fail("unknown field \(m.key) (known: \(allowed.sorted().joined(separator: ", ")))") }
            guard seen.insert(m.key).inserted else { throw fail("\(m.key) appears twice") }
        }
    }

    func array() throws -> [SeedReader] {
        guard case .array(let a) = value else { throw fail("expected an array") }
        return a.enumerated().map { SeedReader($1, path: "\(path)[\($0)]", label: label) }
    }

    func string(maxLength: Int) throws -> String {
        guard case .string(let s) = value else { throw fail("expected a string") }
        guard !s.isEmpty, s.utf8.count <= maxLength else { throw fail("expected 1-\(maxLength) bytes of text") }
        return s
    }

    func nullableString(maxLength: Int) throws -> String? {
        value.isNull ? nil : try string(maxLength: maxLength)
    }

    /// A user or token name: 1-64 of A-Z a-z 0-9 - _ . @.
    func userName() throws -> String {
        let s = try string(maxLength: 64)
        guard s.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.@".unicodeScalars.contains($0)) }) else {
            throw fail("names are 1-64 characters of A-Z a-z 0-9 - _ . @")
        }
        return s
    }

    func objectID() throws -> String {
        guard case .string(let s) = value, ObjectID.isValid(s) else { throw fail("expected an id of 24 lowercase hex digits") }
        return s
    }

    func sha256() throws -> [UInt8] {
        guard case .string(let s) = value, s.utf8.count == 64,
              s.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
            throw fail("expected 64 lowercase hex digits (SHA-256 of the token)")
        }
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            out.append(UInt8(s[i ..< j], radix: 16) ?? 0)
            i = j
        }
        return out
    }

    /// Epoch milliseconds: an integer in 0...2^53.
    func timestamp() throws -> Int64 {
        guard let i = value.intValue, i >= 0, i <= 1 << 53 else { throw fail("expected epoch milliseconds (an integer ≥ 0)") }
        return i
    }

    func nullableTimestamp() throws -> Int64? { value.isNull ? nil : try timestamp() }

    /// A count or size: an integer in 0...2^53.
    func count() throws -> Int {
        guard let i = value.intValue, i >= 0, i <= 1 << 53 else { throw fail("expected an integer ≥ 0") }
        return Int(i)
    }

    func nullableObject() throws -> JSONValue? {
        if value.isNull { return nil }
        guard case .object = value else { throw fail("expected an object") }
        return value
    }

    func float() throws -> Float {
        guard let d = value.doubleValue else { throw fail("expected a number") }
        let f = Float(d)
        guard f.isFinite else { throw fail("expected a finite float32 number") }
        return f
    }

    func nonNegative() throws -> Double {
        guard let d = value.doubleValue, d.isFinite, d >= 0 else { throw fail("expected a finite number ≥ 0") }
        return d
    }
}
