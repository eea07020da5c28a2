#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTPKit
@testable import LightlyAPI
import LightlyWire
import Testing

/// The part of docs/openapi.yaml these tests read: a schema's `required` list and `properties`
/// (with each property's own lines, for nested objects). Block style only, as the file is written.
struct YAMLSchema {
    let required: [String]
    let properties: [(name: String, lines: [Substring])]

    /// The schema object whose key line is at `indent` in `lines` (its body follows).
    init(lines: [Substring], indent: Int) {
        func ind(_ l: Substring) -> Int { l.prefix { $0 == " " }.count }
        let pad = String(repeating: " ", count: indent + 2)
        var required: [String] = []
        var properties: [(String, [Substring])] = []
        var i = 0
        while i < lines.count {
            let l = lines[i]
            if l == pad + "required:" {
                i += 1
                while i < lines.count, lines[i].hasPrefix(pad + "- ") {
                    required.append(String(lines[i].dropFirst(pad.count + 2))); i += 1
                }
                continue
            }
            if l == pad + "properties:" {
                i += 1
                while i < lines.count, ind(lines[i]) > indent + 2 {
                    let key = lines[i]
                    if ind(key) == indent + 4, key.hasSuffix(":") {
                        var body: [Substring] = []
                        i += 1
                        while i < lines.count, ind(lines[i]) > indent + 4 { body.append(lines[i]); i += 1 }
                        properties.append((String(key.trimmingCharacters(in: .whitespaces).dropLast()), body))
                    } else { i += 1 }
                }
                continue
            }
            i += 1
        }
        self.required = required
        self.properties = properties
    }

    /// The nested object schema of property `name` (its key line is at `indent + 4`).
    func nested(_ name: String, indent: Int) -> YAMLSchema? {
        properties.first { $0.name == name }.map { YAMLSchema(lines: $0.lines, indent: indent + 4) }
    }
}

/// docs/openapi.yaml marks exactly the request fields the server requires: for every request
/// schema, a full example body is accepted, and leaving out one field is rejected exactly when
/// the schema lists it as required.
@Suite struct OpenAPIRequestSchemaTests {
    static let yaml: [Substring] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/openapi.yaml")
        return ((try? String(contentsOf: url, encoding: .utf8)) ?? "").split(separator: "\n")
    }()

    static func schema(_ name: String) -> YAMLSchema? {
        guard let start = yaml.firstIndex(of: Substring("    \(name):")) else { return nil }
        var end = start + 1
        while end < yaml.count, yaml[end].hasPrefix("     ") { end += 1 }
        return YAMLSchema(lines: Array(yaml[(start + 1) ..< end]), indent: 4)
    }

    /// One full example per request schema (raw JSON per property) and whether the server
    /// accepts a body.
    struct Case: Sendable, CustomStringConvertible {
        let schema: String
        let example: [(String, String)]
        let accepts: @Sendable (String) throws -> Bool
        var description: String { schema }
    }

    static func decodes<T: Decodable>(_ type: T.Type) -> @Sendable (String) throws -> Bool {
        { json in (try? WireJSON.decode(T.self, from: Array(json.utf8))) != nil }
    }

    static let id = "0123456789abcdef01234567"
    static let cases: [Case] = [
        Case(schema: "DatasetCreateRequest", example: [("name", #""d""#), ("type", #""Images""#), ("imgType", #""full""#)],
             accepts: decodes(DatasetCreateRequest.self)),
        Case(schema: "DatasetUpdateRequest", example: [("name", #""d""#)], accepts: decodes(DatasetUpdateRequest.self)),
        Case(schema: "SampleCreateRequest",
             example: [("fileName", #""a.png""#), ("thumbName", #""t.webp""#), ("metaData", "{}"), ("exif", "{}"), ("customMetaData", "{}")],
             accepts: decodes(SampleCreateRequest.self)),
        Case(schema: "SampleUpdateRequest",
             example: [("fileName", #""a.png""#), ("thumbName", #""t.webp""#), ("metaData", "{}"), ("exif", "{}"), ("customMetaData", "{}")],
             accepts: decodes(SampleUpdateRequest.self)),
        Case(schema: "InitialTagCreateRequest", example: [("imgType", #""full""#), ("creator", #""USER_PIP""#), ("name", #""x""#)],
             accepts: decodes(InitialTagCreateRequest.self)),
        Case(schema: "TagUpsizeRequest", example: [("upsizeTagName", #""u""#), ("upsizeTagCreator", #""USER_PIP""#)],
             accepts: decodes(TagUpsizeRequest.self)),
        Case(schema: "TagArithmeticsRequest",
             example: [("tagId1", #""\#(id)""#), ("tagId2", #""\#(id)""#), ("operation", #""UNION""#),
                       ("newTagName", #""n""#), ("creator", #""USER_PIP""#)],
             accepts: decodes(TagArithmeticsRequest.self)),
        Case(schema: "TagCreateRequest",
             example: [("name", #""t""#), ("prevTagId", #""\#(id)""#), ("bitMaskData", #""0x1""#), ("totSize", "1"),
                       ("creator", #""USER_PIP""#), ("changes", "{}"), ("queryTagId", #""\#(id)""#), ("preselectedTagId", #""\#(id)""#)],
             accepts: decodes(TagCreateRequest.self)),
        Case(schema: "TagUpdateRequest", example: [("name", #""t""#)], accepts: decodes(TagUpdateRequest.self)),
        Case(schema: "ActiveLearningScoreCreateRequest", example: [("scoreType", #""s""#), ("scores", "[0.5]")],
             accepts: decodes(ActiveLearningScoreCreateRequest.self)),
        Case(schema: "SharedAccessConfigCreateRequest",
             example: [("accessType", #""WRITE""#), ("users", #"["a@b.c"]"#), ("teams", "[]"), ("creator", #""USER_PIP""#)],
             accepts: decodes(SharedAccessConfigCreateRequest.self)),
        Case(schema: "SamplingCreateRequest",
             example: [("newTagName", #""n""#), ("method", #""RANDOM""#),
                       ("config", #"{"stoppingCondition": {"nSamples": 1, "minDistance": -1}}"#),
                       ("preselectedTagId", #""\#(id)""#), ("queryTagId", #""\#(id)""#), ("rowCount", "1"), ("scoreType", #""s""#)],
             accepts: decodes(SamplingCreateRequest.self)),
    ]

    static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
    }

    /// Checks one object schema against `accepts`, recursing into `config.stoppingCondition`.
    static func check(_ name: String, _ schema: YAMLSchema, example: [(String, String)],
                      accepts: (String) throws -> Bool) throws {
        let documented = Set(schema.properties.map(\.name))
        #expect(documented == Set(example.map(\.0)), "\(name): documented \(documented.sorted()), example \(example.map(\.0))")
        #expect(Set(schema.required).isSubset(of: documented), "\(name): a required field is not a property")
        #expect(try accepts(object(example)), "\(name): the full example is rejected")
        for (field, _) in example {
            let accepted = try accepts(object(example.filter { $0.0 != field }))
            #expect(accepted == !schema.required.contains(field),
                    "\(name).\(field): documented \(schema.required.contains(field) ? "required" : "optional"), the server \(accepted ? "accepts" : "rejects") a body without it")
        }
    }

    @Test(arguments: cases)
    func requiredFieldsMatchTheDecoder(_ c: Case) throws {
        let schema = try #require(Self.schema(c.schema), "\(c.schema) is not in docs/openapi.yaml")
        try Self.check(c.schema, schema, example: c.example, accepts: c.accepts)
    }

    /// `config` and `config.stoppingCondition` of a sampling request: nothing in them is required.
    @Test func samplingConfigFieldsMatchTheDecoder() throws {
        let request = try #require(Self.schema("SamplingCreateRequest"))
        let config = try #require(request.nested("config", indent: 4))
        let stop = try #require(config.nested("stoppingCondition", indent: 8))
        func accepts(_ config: String) -> Bool {
            (try? WireJSON.decode(SamplingCreateRequest.self,
                                  from: Array(#"{"newTagName": "n", "method": "RANDOM", "config": \#(config)}"#.utf8))) != nil
        }
        try Self.check("config", config, example: [("stoppingCondition", #"{"nSamples": 1}"#)], accepts: accepts)
        try Self.check("stoppingCondition", stop, example: [("nSamples", "1"), ("minDistance", "0.5")]) {
            accepts(#"{"stoppingCondition": \#($0)}"#)
        }
        // Absent numbers mean no stop; the decoder keeps them absent.
        let r = try WireJSON.decode(SamplingCreateRequest.self, from: Array(#"{"newTagName": "n", "method": "RANDOM", "config": {}}"#.utf8))
        #expect(r.config.stoppingCondition == SamplingStoppingCondition(nSamples: nil, minDistance: nil))
    }

    /// The two bodies the handlers read without a typed decoder (`registerDatasetUpload`,
    /// `trigger2dEmbeddingsJob`) require nothing, and the document says so.
    @Test func handlerReadBodiesRequireNothing() throws {
        let t = try TestApp.make()
        let w = try UserWorld.make(t, user: "alice")
        let upload = try #require(Self.schema("DatasetUploadRequest"))
        try Self.check("DatasetUploadRequest", upload,
                       example: [("total", "1"), ("processed", "1"), ("uploadMethod", #""USER_PIP""#)]) { body in
            try t.call(.PUT, "/v1/datasets/\(w.dataset)/registerDatasetUpload", token: w.token, json: body).status == 200
        }
        let trigger = try #require(Self.schema("EmbeddingIdTrigger2dEmbeddingsJobBody"))
        try Self.check("EmbeddingIdTrigger2dEmbeddingsJobBody", trigger, example: [("dimensionalityReductionMethod", #""PCA""#)]) { body in
            try t.call(.POST, "/v1/datasets/\(w.dataset)/embeddings/\(w.embedding)/trigger2dEmbeddingsJob", token: w.token, json: body).status == 200
        }
        // No body at all is fine too; a body that is not an object is a clear 400.
        #expect(try t.call(.POST, "/v1/datasets/\(w.dataset)/embeddings/\(w.embedding)/trigger2dEmbeddingsJob", token: w.token).status == 200)
        let bad = try t.call(.POST, "/v1/datasets/\(w.dataset)/embeddings/\(w.embedding)/trigger2dEmbeddingsJob", token: w.token, json: "[1]")
        #expect(bad.status == 400)
        #expect(bad.errorCode == "MALFORMED_REQUEST")
    }

    /// Every request body in the document is one of the schemas checked above.
    @Test func everyRequestBodySchemaIsChecked() throws {
        let checked = Set(Self.cases.map(\.schema) + ["DatasetUploadRequest", "EmbeddingIdTrigger2dEmbeddingsJobBody"])
        var inBody = false
        var found = Set<String>()
        for line in Self.yaml {
            if line.hasPrefix("      requestBody:") { inBody = true; continue }
            if line.hasPrefix("      responses:") { inBody = false; continue }
            if inBody, let r = line.range(of: "#/components/schemas/") {
                found.insert(String(line[r.upperBound...].dropLast()))
                inBody = false
            }
        }
        #expect(!found.isEmpty)
        #expect(found.isSubset(of: checked), "unchecked request schemas: \(found.subtracting(checked).sorted())")
    }
}
