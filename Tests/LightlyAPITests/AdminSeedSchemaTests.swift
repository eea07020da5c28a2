import Foundation
@testable import LightlyAPI
import LightlyWire
import Testing

/// docs/admin-seed.schema.json and the server's reader (`SeedDocument`) agree on which
/// documents are well-formed. Validated with Python's `jsonschema` (the conformance venv's, or
/// the system's); skipped when neither has it.
@Suite struct AdminSeedSchemaTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// A Python that can `import jsonschema`, or nil.
    static let python: String? = {
        let candidates = [repo.appendingPathComponent(".build/conformance/venvs/openapi/bin/python").path,
                          "/usr/bin/python3", "/usr/local/bin/python3"]
        for p in candidates where FileManager.default.isExecutableFile(atPath: p) {
            if (try? run(p, ["-c", "import jsonschema"])) == 0 { return p }
        }
        return nil
    }()

    static func run(_ exe: String, _ args: [String], output: Pipe? = nil) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        p.standardOutput = output ?? FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }

    static let valid: [String] = [
        "{}",
        #"{"version": 1, "users": [], "datasets": []}"#,
        exampleSeed,
        #"{"users": [{"name": "a", "tokens": [{"sha256": "\#(String(repeating: "ab", count: 32))", "revokedAt": null}]}]}"#,
        #"{"users": [{"name": "a"}], "datasets": [{"owner": "a", "name": "d", "share": null, "createdAt": 5.0, "samples": [{"fileName": "x", "metaData": null, "customMetaData": [1, "two"]}]}]}"#,
        #"{"users": [{"name": "a"}], "datasets": [{"owner": "a", "name": "d", "samples": [{"fileName": "x"}], "tags": [{"name": "t", "fileNames": ["x"], "changes": {"any": ["thing"]}, "creator": null}]}]}"#,
    ]

    static let invalid: [String] = [
        "[]",
        #"{"version": 2}"#,
        #"{"extra": 1}"#,
        #"{"users": [{"name": "a b"}]}"#,
        #"{"users": [{"name": ""}]}"#,
        #"{"users": [{}]}"#,
        #"{"users": [{"name": "a", "id": "XYZ"}]}"#,
        #"{"users": [{"name": "a", "tokens": [{}]}]}"#,
        #"{"users": [{"name": "a", "tokens": [{"token": "lt_short"}]}]}"#,
        #"{"users": [{"name": "a", "tokens": [{"token": "no-prefix-token"}]}]}"#,
        #"{"users": [{"name": "a", "tokens": [{"token": "lt_0123456789", "sha256": "\#(String(repeating: "ab", count: 32))"}]}]}"#,
        #"{"users": [{"name": "a", "tokens": [{"sha256": "abc"}]}]}"#,
        #"{"datasets": [{"name": "d"}]}"#,
        #"{"datasets": [{"owner": "a", "name": "d", "createdAt": -1}]}"#,
        #"{"datasets": [{"owner": "a", "name": "d", "createdAt": 1.5}]}"#,
        #"{"datasets": [{"owner": "a", "name": "d", "type": null}]}"#,
        #"{"datasets": [{"owner": "a", "name": "d", "samples": [{"fileName": 3}]}]}"#,
        #"{"datasets": [{"owner": "a", "name": "d", "samples": [{"fileName": "x", "metaData": []}]}]}"#,
        #"{"datasets": [{"owner": "a", "name": "d", "embeddings": [{"name": "e", "rows": [["1"]]}]}]}"#,
        #"{"datasets": [{"owner": "a", "name": "d", "embeddings": [{"name": "e", "rows": [[1]], "csv": "x"}]}]}"#,
        #"{"datasets": [{"owner": "a", "name": "d", "tags": [{"name": "t"}]}]}"#,
        #"{"datasets": [{"owner": "a", "name": "d", "tags": [{"name": "t", "fileNames": [], "scores": [{"scoreType": "s", "scores": [-0.5]}]}]}]}"#,
        #"{"datasets": [{"owner": "a", "name": "d", "share": {"users": []}}]}"#,
    ]

    @Test(.enabled(if: python != nil, "needs Python with jsonschema"))
    func schemaAndReaderAgree() throws {
        // A real snapshot is a valid document too.
        let t = try TestApp.makeAdmin()
        #expect(try t.admin(.POST, "/_admin/seed", json: exampleSeed).status == 201)
        let snapshot = try t.admin(.GET, "/_admin/snapshot").text
        let docs = Self.valid + [snapshot] + Self.invalid

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("seed-schema-\(UInt32.random(in: 0 ... .max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let docsFile = dir.appendingPathComponent("docs.json")
        try Data(JSONValue.array(docs.map { .string($0) }).serializedBytes()).write(to: docsFile)
        let script = """
            import json, sys, jsonschema
            schema = json.load(open(sys.argv[1]))
            jsonschema.Draft202012Validator.check_schema(schema)
            v = jsonschema.Draft202012Validator(schema)
            print(json.dumps([v.is_valid(json.loads(d)) for d in json.load(open(sys.argv[2]))]))
            """
        let out = Pipe()
        let status = try Self.run(try #require(Self.python), ["-c", script, Self.repo.appendingPathComponent("docs/admin-seed.schema.json").path,
                                                       docsFile.path], output: out)
        #expect(status == 0)
        let verdicts = try JSONValue.parse(Array(out.fileHandleForReading.readDataToEndOfFile())).arrayValue?.compactMap(\.boolValue) ?? []
        try #require(verdicts.count == docs.count)
        for (i, doc) in docs.enumerated() {
            let expected = i < Self.valid.count + 1
            let swift = (try? SeedDocument(JSONValue.parse(doc))) != nil
            #expect(verdicts[i] == expected, "schema says \(verdicts[i]) for \(doc.prefix(200))")
            #expect(swift == expected, "reader says \(swift) for \(doc.prefix(200))")
        }
    }

    /// Without Python: at least every example document is read by the server.
    @Test func examplesAreReadable() throws {
        for doc in Self.valid { #expect((try? SeedDocument(JSONValue.parse(doc))) != nil, "\(doc)") }
        for doc in Self.invalid { #expect((try? SeedDocument(JSONValue.parse(doc))) == nil, "\(doc)") }
    }
}
