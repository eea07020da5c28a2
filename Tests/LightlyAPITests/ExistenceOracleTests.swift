#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTPKit
@testable import LightlyAPI
import LightlyWire
import Testing

/// One user's data, created through the API: a dataset of four samples with its initial tag,
/// a second tag, a processed embedding, a score on the initial tag and a queued sampling job.
struct UserWorld {
    let token: String
    let dataset: String
    let sample: String
    let initialTag: String
    let tag: String
    let embedding: String
    let score: String
    let job: String
    /// The dataset's access config (shared with nobody).
    let share: String

    static func make(_ t: TestApp, user: String) throws -> UserWorld {
        let token = try t.makeUser(user)
        let ds = try t.makeDataset("\(user)-data", token: token)
        var samples: [String] = []
        for i in 0 ..< 4 { samples.append(try t.makeSample("\(user)_\(i).png", dataset: ds, token: token)) }
        let initial = try t.call(.POST, "/v1/datasets/\(ds)/tags/initial", token: token, json: #"{"imgType":"full"}"#)
            .decode(CreateEntityResponse.self).id
        let tag = try t.call(.POST, "/v1/datasets/\(ds)/tags", token: token,
                             json: #"{"name":"sub","prevTagId":"\#(initial)","bitMaskData":"0x3","totSize":4}"#)
            .decode(CreateEntityResponse.self).id
        let w = try t.call(.GET, "/v1/datasets/\(ds)/embeddings/writeCSVUrl?name=emb", token: token).decode(WriteCSVUrlData.self)
        let csv = embeddingCSV((0 ..< 4).map { ("\(user)_\($0).png", [Float($0), Float($0 * $0)]) })
        let put = try t.call(.PUT, targetOf(w.signedWriteUrl), body: .bytes(Data(csv.utf8)))
        #expect(put.status == 200, "\(put.text)")
        let score = try t.call(.POST, "/v1/datasets/\(ds)/tags/\(initial)/scores", token: token,
                               json: #"{"scoreType":"uncertainty_margin","scores":[0.1,0.2,0.3,0.4]}"#)
            .decode(CreateEntityResponse.self).id
        let job = try t.call(.POST, "/v1/datasets/\(ds)/embeddings/\(w.embeddingId)/sampling", token: token,
                             json: #"{"newTagName":"picked","method":"RANDOM","config":{"stoppingCondition":{"nSamples":2}}}"#)
            .decode(AsyncTaskData.self).jobId
        let share = try t.call(.POST, "/v1/datasets/\(ds)/collaboration/access", token: token,
                               json: #"{"accessType":"WRITE","users":[]}"#).decode(CreateEntityResponse.self).id
        return UserWorld(token: token, dataset: ds, sample: samples[0], initialTag: initial, tag: tag,
                         embedding: w.embeddingId, score: score, job: job, share: share)
    }
}

/// A request that carries one probed id. `pattern` and `param` name the route and the id's
/// place (a path parameter, or `body.field` / `query.field`), so the coverage check below knows
/// which routes were audited.
private struct Probe: CustomStringConvertible {
    let method: HTTPMethod
    let pattern: String
    let param: String
    /// Which of Alice's ids goes in (`dataset`, `tag`, `sample`, `embedding`, `job`, `score`).
    let kind: String
    /// The request target and body for a probed id.
    let request: (String) -> (String, String?)
    var description: String { "\(method) \(pattern) [\(param)]" }
}

/// Another user's ids answer exactly like unknown ids: for every id Bob can put into a request
/// (path, query, body), Bob's answer for Alice's id equals his answer for a random unknown id in
/// status, code and message (with the id masked).
@Suite struct ExistenceOracleTests {
    private static func probes(bob b: UserWorld) -> [Probe] {
        let ds = b.dataset
        func sampling(_ extra: String) -> String {
            #"{"newTagName":"probe","method":"CORESET","config":{"stoppingCondition":{"nSamples":2}}\#(extra)}"#
        }
        var p: [Probe] = []
        func add(_ m: HTTPMethod, _ pattern: String, _ param: String, _ kind: String, _ r: @escaping (String) -> (String, String?)) {
            p.append(Probe(method: m, pattern: pattern, param: param, kind: kind, request: r))
        }
        // Alice's dataset id in the path of every dataset route.
        let exports = ["/export/basic/filenames", "/export/basic/filenamesAndReadUrls", "/export/LabelStudio/tasks",
                       "/export/LabelStudioTasks", "/export/LabelBox/datarows", "/export/LabelBoxDataRows",
                       "/export/LabelBoxV4/datarows"]
        let dsRoutes: [(HTTPMethod, String, String?)] = [
            (.GET, "", nil), (.PUT, "", #"{"name":"stolen"}"#), (.DELETE, "", nil),
            (.GET, "/datasource", nil),
            (.GET, "/samples", nil), (.POST, "/samples", #"{"fileName":"evil.png","metaData":{}}"#),
            (.PUT, "/registerDatasetUpload", #"{"total":1,"processed":0}"#),
            (.GET, "/mappings?field=fileName", nil),
            (.GET, "/tags", nil), (.POST, "/tags", #"{"name":"t","prevTagId":"\#(b.initialTag)","bitMaskData":"0x1","totSize":4}"#),
            (.POST, "/tags/initial", #"{"imgType":"full"}"#),
            (.POST, "/tags/upsize", #"{"upsizeTagName":"u","upsizeTagCreator":"USER_PIP"}"#),
            (.POST, "/tags/arithmetics", #"{"tagId1":"\#(b.initialTag)","tagId2":"\#(b.tag)","operation":"UNION"}"#),
            (.POST, "/tags/arithmetics/bitmask", #"{"tagId1":"\#(b.initialTag)","tagId2":"\#(b.tag)","operation":"UNION"}"#),
            (.GET, "/tags/\(b.tag)", nil), (.PUT, "/tags/\(b.tag)", #"{"name":"x"}"#), (.DELETE, "/tags/\(b.tag)", nil),
            (.GET, "/tags/\(b.tag)/filenames", nil),
            (.GET, "/tags/\(b.initialTag)/scores", nil),
            (.POST, "/tags/\(b.initialTag)/scores", #"{"scoreType":"s","scores":[0.5]}"#),
            (.GET, "/tags/\(b.initialTag)/scores/\(b.score)", nil),
            (.GET, "/samples/\(b.sample)", nil), (.PUT, "/samples/\(b.sample)", #"{"customMetaData":{}}"#),
            (.GET, "/samples/\(b.sample)/writeurl", nil), (.GET, "/samples/\(b.sample)/writeurls", nil),
            (.GET, "/samples/\(b.sample)/readurl?type=full", nil),
            (.GET, "/embeddings", nil), (.GET, "/embeddings/writeCSVUrl?name=e", nil),
            (.GET, "/embeddings/\(b.embedding)/readCSVUrl", nil), (.GET, "/embeddings/\(b.embedding)/2d", nil),
            (.POST, "/embeddings/\(b.embedding)/trigger2dEmbeddingsJob", "{}"),
            (.POST, "/embeddings/\(b.embedding)/sampling", sampling("")),
            (.POST, "/collaboration/access", #"{"accessType":"WRITE","users":["x@y.z"]}"#),
            (.GET, "/collaboration/access", nil), (.DELETE, "/collaboration/access/\(b.share)", nil),
            (.GET, "/samples/partial?mode=ids", nil),
        ] + exports.map { (.GET, "/tags/\(b.tag)\($0)", nil) }
        for (m, rest, body) in dsRoutes {
            let pattern = "/v1/datasets/:datasetId" + Self.generalize(rest, b)
            add(m, pattern, "datasetId", "dataset") { id in ("/v1/datasets/\(id)\(rest)", body) }
        }
        // Alice's ids in the path, inside Bob's own dataset.
        let tagRoutes: [(HTTPMethod, String, String?)] = [
            (.GET, "", nil), (.PUT, "", #"{"name":"x"}"#), (.DELETE, "", nil), (.GET, "/filenames", nil),
            (.GET, "/scores", nil), (.POST, "/scores", #"{"scoreType":"s","scores":[0.5]}"#),
            (.GET, "/scores/\(b.score)", nil),
        ] + exports.map { (.GET, $0, nil) }
        for (m, rest, body) in tagRoutes {
            add(m, "/v1/datasets/:datasetId/tags/:tagId" + Self.generalize(rest, b), "tagId", "tag") { id in
                ("/v1/datasets/\(ds)/tags/\(id)\(rest)", body)
            }
        }
        add(.GET, "/v1/datasets/:datasetId/tags/:tagId/scores/:scoreId", "scoreId", "score") { id in
            ("/v1/datasets/\(ds)/tags/\(b.initialTag)/scores/\(id)", nil)
        }
        let sampleRoutes: [(HTTPMethod, String, String?)] = [
            (.GET, "", nil), (.PUT, "", #"{"customMetaData":{}}"#), (.GET, "/writeurl", nil),
            (.GET, "/writeurls", nil), (.GET, "/readurl?type=full", nil),
        ]
        for (m, rest, body) in sampleRoutes {
            add(m, "/v1/datasets/:datasetId/samples/:sampleId" + Self.generalize(rest, b), "sampleId", "sample") { id in
                ("/v1/datasets/\(ds)/samples/\(id)\(rest)", body)
            }
        }
        let embeddingRoutes: [(HTTPMethod, String, String?)] = [
            (.GET, "/readCSVUrl", nil), (.GET, "/2d", nil), (.POST, "/trigger2dEmbeddingsJob", "{}"),
            (.POST, "/sampling", sampling("")),
        ]
        for (m, rest, body) in embeddingRoutes {
            add(m, "/v1/datasets/:datasetId/embeddings/:embeddingId" + rest, "embeddingId", "embedding") { id in
                ("/v1/datasets/\(ds)/embeddings/\(id)\(rest)", body)
            }
        }
        add(.GET, "/v1/jobs/:jobId", "jobId", "job") { id in ("/v1/jobs/\(id)", nil) }
        // The web page's routes.
        add(.GET, "/ui-api/datasets/:datasetId/tags", "datasetId", "dataset") { id in ("/ui-api/datasets/\(id)/tags", nil) }
        add(.GET, "/ui-api/datasets/:datasetId/tags/:tagId/samples", "datasetId", "dataset") { id in
            ("/ui-api/datasets/\(id)/tags/\(b.tag)/samples", nil)
        }
        add(.GET, "/ui-api/datasets/:datasetId/tags/:tagId/samples", "tagId", "tag") { id in ("/ui-api/datasets/\(ds)/tags/\(id)/samples", nil) }
        add(.GET, "/ui-api/datasets/:datasetId/embeddings/:embeddingId/points", "datasetId", "dataset") { id in
            ("/ui-api/datasets/\(id)/embeddings/\(b.embedding)/points", nil)
        }
        add(.GET, "/ui-api/datasets/:datasetId/embeddings/:embeddingId/points", "embeddingId", "embedding") { id in
            ("/ui-api/datasets/\(ds)/embeddings/\(id)/points", nil)
        }
        add(.DELETE, "/v1/datasets/:datasetId/collaboration/access/:accessConfigId", "accessConfigId", "share") { id in
            ("/v1/datasets/\(ds)/collaboration/access/\(id)", nil)
        }
        // Alice's tag ids in the body of Bob's requests on his own dataset.
        let emb = "/v1/datasets/\(ds)/embeddings/\(b.embedding)/sampling"
        let samplingPattern = "/v1/datasets/:datasetId/embeddings/:embeddingId/sampling"
        add(.POST, samplingPattern, "body.preselectedTagId", "tag") { id in (emb, sampling(#","preselectedTagId":"\#(id)""#)) }
        add(.POST, samplingPattern, "body.queryTagId", "tag") { id in (emb, sampling(#","queryTagId":"\#(id)""#)) }
        for field in ["prevTagId", "queryTagId", "preselectedTagId"] {
            add(.POST, "/v1/datasets/:datasetId/tags", "body.\(field)", "tag") { id in
                let prev = field == "prevTagId" ? id : b.initialTag
                var body = #"{"name":"probe","prevTagId":"\#(prev)","bitMaskData":"0x1","totSize":4"#
                if field != "prevTagId" { body += #","\#(field)":"\#(id)""# }
                return ("/v1/datasets/\(ds)/tags", body + "}")
            }
        }
        for suffix in ["", "/bitmask"] {
            for field in ["tagId1", "tagId2"] {
                add(.POST, "/v1/datasets/:datasetId/tags/arithmetics" + suffix, "body.\(field)", "tag") { id in
                    let (t1, t2) = field == "tagId1" ? (id, b.tag) : (b.initialTag, id)
                    return ("/v1/datasets/\(ds)/tags/arithmetics\(suffix)",
                            #"{"tagId1":"\#(t1)","tagId2":"\#(t2)","operation":"UNION","newTagName":"probe"}"#)
                }
            }
        }
        return p
    }

    /// Turns Bob's concrete ids in a route suffix back into the pattern's parameters.
    private static func generalize(_ rest: String, _ b: UserWorld) -> String {
        var s = String(rest.split(separator: "?", maxSplits: 1).first ?? "")
        for (id, name) in [(b.tag, ":tagId"), (b.initialTag, ":tagId"), (b.score, ":scoreId"),
                           (b.sample, ":sampleId"), (b.embedding, ":embeddingId"),
                           (b.share, ":accessConfigId")] {
            s = s.replacingOccurrences(of: id, with: name)
        }
        return s
    }

    private static func randomID() -> String {
        (0 ..< 24).map { _ in String(UInt8.random(in: 0 ..< 16), radix: 16) }.joined()
    }

    @Test func anotherUsersIdsAnswerLikeUnknownIds() throws {
        let t = try TestApp.make()
        let alice = try UserWorld.make(t, user: "alice")
        let bob = try UserWorld.make(t, user: "bob")
        let aliceIds = ["dataset": alice.dataset, "tag": alice.tag, "sample": alice.sample,
                        "embedding": alice.embedding, "job": alice.job, "score": alice.score, "share": alice.share]
        let probes = Self.probes(bob: bob)
        for probe in probes {
            let foreign = try #require(aliceIds[probe.kind])
            let unknown = Self.randomID()
            func ask(_ id: String) throws -> (Int, String) {
                let (target, body) = probe.request(id)
                let r = try t.call(probe.method, target, token: bob.token, json: body)
                return (r.status, r.text.replacingOccurrences(of: id, with: "<id>"))
            }
            let (fs, fb) = try ask(foreign)
            let (us, ub) = try ask(unknown)
            #expect(fs >= 400 && fs < 500, "\(probe): Alice's id answered \(fs) \(fb)")
            #expect(fs == us, "\(probe): status \(fs) for Alice's id, \(us) for an unknown id")
            #expect(fb == ub, "\(probe): body differs:\n  Alice's id: \(fb)\n  unknown id: \(ub)")
            // The error body is the usual JSON shape.
            let code = try? WireJSON.decode(ApiErrorResponse.self, from: Array(fb.utf8)).code
            #expect(code != nil, "\(probe): not a JSON error body: \(fb)")
        }
        // Alice's world is untouched by all of that.
        #expect(try t.dataset(alice.dataset, token: alice.token).nSamples == 4)
        #expect(try t.tags(alice.dataset, token: alice.token).map(\.name) == ["initial-tag", "sub"])
    }

    /// The name query is probed by name: Bob asking for Alice's dataset name, exactly or as a
    /// prefix, gets what he gets for a name nobody uses (an empty list), not her dataset.
    private static let nameQueryKey = "GET /v1/datasets/query/name/:datasetName datasetName"

    @Test func anotherUsersDatasetNameAnswersLikeAnUnknownName() throws {
        let t = try TestApp.make()
        let alice = try UserWorld.make(t, user: "alice")
        let bob = try UserWorld.make(t, user: "bob")
        for query in ["?exact=True", "?exact=False", ""] {
            let foreign = try t.call(.GET, "/v1/datasets/query/name/alice-data\(query)", token: bob.token)
            let unknown = try t.call(.GET, "/v1/datasets/query/name/nobody-data\(query)", token: bob.token)
            #expect(foreign.status == 200 && unknown.status == 200)
            #expect(foreign.text == unknown.text, "\(query): \(foreign.text) vs \(unknown.text)")
            #expect(foreign.text == "[]")
        }
        // Alice herself finds it, so the probe would see a leak.
        let own = try t.call(.GET, "/v1/datasets/query/name/alice-data?exact=True", token: alice.token)
        #expect(own.text.contains(alice.dataset))
    }

    /// Every route with an id parameter is probed, so a new route cannot skip the audit.
    @Test func everyRouteWithAnIdIsProbed() throws {
        let t = try TestApp.make()
        let bob = try UserWorld.make(t, user: "bob")
        let probed = Set(Self.probes(bob: bob).map { "\($0.method.rawValue) \($0.pattern) \($0.param)" })
            .union([Self.nameQueryKey])
        // `/ui/:file` names a file of the web page, not an entity.
        for (method, pattern) in t.app.routeTable where !pattern.hasPrefix("/signed/") && pattern != "/ui/:file" {
            for segment in pattern.split(separator: "/") where segment.hasPrefix(":") {
                let key = "\(method) \(pattern) \(segment.dropFirst())"
                #expect(probed.contains(key), "no existence-oracle probe for \(key)")
            }
        }
    }
}
