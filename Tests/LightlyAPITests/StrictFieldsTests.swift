#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTPKit
@testable import LightlyAPI
import LightlyCore
import LightlyWire
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Checks one JSON object against the field set of the strict client model `T`: no key the
/// model lacks, every required key present, `null` only where the model allows it.
func expectStrict<T: StrictWireFields>(_ value: JSONValue?, as _: T.Type, _ context: String,
                                       sourceLocation: SourceLocation = #_sourceLocation) {
    guard case .object(let o)? = value else {
        Issue.record("\(context): not an object: \(String(describing: value))", sourceLocation: sourceLocation)
        return
    }
    let keys = Set(o.members.map(\.key))
    #expect(keys.subtracting(T.allowedFields).isEmpty,
            "\(context): \(T.self) keys the strict models reject: \(keys.subtracting(T.allowedFields).sorted())",
            sourceLocation: sourceLocation)
    #expect(T.requiredFields.subtracting(keys).isEmpty,
            "\(context): \(T.self) misses required \(T.requiredFields.subtracting(keys).sorted())", sourceLocation: sourceLocation)
    for m in o.members where m.value == .null && T.requiredFields.contains(m.key) {
        #expect(T.nullableRequiredFields.contains(m.key), "\(context): \(T.self).\(m.key) is null", sourceLocation: sourceLocation)
    }
}

/// Every element of a JSON list.
func expectStrictList<T: StrictWireFields>(_ value: JSONValue, as t: T.Type, _ context: String, minCount: Int = 1,
                                           sourceLocation: SourceLocation = #_sourceLocation) {
    guard case .array(let items) = value else {
        Issue.record("\(context): not a list: \(value)", sourceLocation: sourceLocation)
        return
    }
    #expect(items.count >= minCount, "\(context): \(items.count) items", sourceLocation: sourceLocation)
    for (i, item) in items.enumerated() { expectStrict(item, as: t, "\(context)[\(i)]", sourceLocation: sourceLocation) }
}

@Suite struct StrictFieldsTests {
    /// Every response type, with every optional field filled, encodes only allowed keys.
    @Test func fullyPopulatedWireTypesStayWithinTheStrictFieldSets() throws {
        func json<T: Encodable>(_ v: T) throws -> JSONValue { try JSONValue.parse(WireJSON.encode(v)) }
        let id = "0123456789abcdef01234567"
        let sample = SampleData(id: id, datasetId: id, fileName: "a.png", thumbName: "t.webp", exif: [:],
                                metaData: ["sizeInBytes": 3], customMetaData: ["k": 1], index: 0, createdAt: 1, lastModifiedAt: 2)
        expectStrict(try json(CreateEntityResponse(id: id)), as: CreateEntityResponse.self, "CreateEntityResponse")
        expectStrict(try json(DatasetData(id: id, name: "d", userId: id, imgType: .full, nSamples: 1, sizeInBytes: 2,
                                          metaDataConfigurationId: id, createdAt: 1, lastModifiedAt: 2)),
                     as: DatasetData.self, "DatasetData")
        expectStrict(try json(DatasetDataEnriched(DatasetData(id: id, name: "d", userId: id, imgType: .full, nSamples: 1, sizeInBytes: 2,
                                                              metaDataConfigurationId: id, createdAt: 1, lastModifiedAt: 2),
                                                  samples: [id], nTags: 1, nEmbeddings: 0)),
                     as: DatasetDataEnriched.self, "DatasetDataEnriched")
        expectStrict(try json(sample), as: SampleData.self, "SampleData")
        for mode in [SamplePartialMode.ids, .fileNames, .full] {
            expectStrict(try json(SampleDataModes(sample, mode: mode)), as: SampleDataModes.self, "SampleDataModes \(mode.rawValue)")
        }
        expectStrict(try json(SampleWriteUrls(full: "u", thumb: "v")), as: SampleWriteUrls.self, "SampleWriteUrls")
        // TagData: creator and changes set, yet not sent; prevTagId present even when nil.
        let tag = TagData(id: id, datasetId: id, prevTagId: nil, queryTagId: id, preselectedTagId: id, name: "tag",
                          bitMaskData: "0x1", totSize: 1, creator: .samplerCoreset, createdAt: 1, lastModifiedAt: 2, changes: ["x": 1])
        let tagJSON = try json(tag)
        expectStrict(tagJSON, as: TagData.self, "TagData")
        #expect(tagJSON["prevTagId"] == .null && tagJSON["creator"] == nil && tagJSON["changes"] == nil)
        expectStrict(try json(TagBitMaskResponse(bitMaskData: "0x1")), as: TagBitMaskResponse.self, "TagBitMaskResponse")
        expectStrict(try json(AsyncTaskData(jobId: id)), as: AsyncTaskData.self, "AsyncTaskData")
        let status = JobStatusData(id: id, status: .finished, meta: JobStatusMeta(total: 2, processed: 2, uploadMethod: .userPip, isRegistered: true),
                                   waitTimeTillNextPoll: 0, createdAt: 1, finishedAt: 2, error: "e",
                                   result: JobStatusDataResult(type: .sampling, data: id))
        let statusJSON = try json(status)
        expectStrict(statusJSON, as: JobStatusData.self, "JobStatusData")
        expectStrict(statusJSON["meta"], as: JobStatusMeta.self, "JobStatusData.meta")
        expectStrict(statusJSON["result"], as: JobStatusDataResult.self, "JobStatusData.result")
        expectStrict(try json(ActiveLearningScoreData(id: id, tagId: id, scoreType: "s", scores: [0.5], createdAt: 1)),
                     as: ActiveLearningScoreData.self, "ActiveLearningScoreData")
        expectStrict(try json(DatasetEmbeddingData(id: id, name: "e", isProcessed: true, createdAt: 1, is2d: true)),
                     as: DatasetEmbeddingData.self, "DatasetEmbeddingData")
        expectStrict(try json(WriteCSVUrlData(signedWriteUrl: "u", embeddingId: id)), as: WriteCSVUrlData.self, "WriteCSVUrlData")
        expectStrict(try json(Embedding2dData(id: id, datasetId: id, embeddingId: id, name: "p", createdAt: 1,
                                              dimensionalityReductionMethod: "PCA", computedWith: "PCA",
                                              coordinatesDimension1: [1], coordinatesDimension2: [2])),
                     as: Embedding2dData.self, "Embedding2dData")
        let task = try json(LabelStudioTask(id: 3, data: LabelStudioTaskData(image: "u", lightlyFileName: "a.png", lightlyMetaInfo: sample)))
        expectStrict(task, as: LabelStudioTask.self, "LabelStudioTask")
        expectStrict(task["data"], as: LabelStudioTaskData.self, "LabelStudioTask.data")
        expectStrict(task["data"]?["lightlyMetaInfo"], as: SampleData.self, "LabelStudioTask.data.lightlyMetaInfo")
        expectStrict(try json(LabelBoxDataRow(externalId: "a", imageUrl: "u")), as: LabelBoxDataRow.self, "LabelBoxDataRow")
        expectStrict(try json(LabelBoxV4DataRow(rowData: "u", globalKey: "a")), as: LabelBoxV4DataRow.self, "LabelBoxV4DataRow")
    }

    /// Real answers of every route the strict releases read, after a sampling job, a 2-D
    /// projection and scores exist, checked against the model the client parses them into.
    @Test func responsesOfTheRoutesStrictReleasesReadStayWithinTheirModels() throws {
        let n = 12, d = 3
        let f = try JobsHTTPFixture.make(samples: n, pollWait: 0)
        defer { f.stop() }
        let ds = "/v1/datasets/\(f.datasetId)"
        let initial = try #require(f.initialTagId)
        let pts = testPoints(n: n, d: d)
        let (eid, put) = try f.upload(embeddingCSV((0 ..< n).map { (JobsFixture.name($0), Array(pts[($0 * d) ..< ($0 * d + d)])) }))
        #expect(put.status == 200)
        let scores = (0 ..< n).map { String(Double($0) / Double(n)) }.joined(separator: ",")
        let scoreResp = try f.t.call(.POST, "\(ds)/tags/\(initial)/scores", token: f.token,
                                     json: #"{"scoreType":"uncertainty_margin","scores":[\#(scores)]}"#)
        expectStrict(scoreResp.json, as: CreateEntityResponse.self, "POST scores")
        let trig = try f.sample(eid, #"{"newTagName":"coreset-4","method":"CORESET","config":{"stoppingCondition":{"nSamples":4,"minDistance":-1}},"rowCount":\#(n)}"#)
        expectStrict(trig.json, as: AsyncTaskData.self, "POST sampling")
        let jobId = try trig.decode(AsyncTaskData.self).jobId
        _ = try f.poll(jobId)
        let status = try f.t.call(.GET, "/v1/jobs/\(jobId)", token: f.token).json
        expectStrict(status, as: JobStatusData.self, "GET job")
        expectStrict(status["result"], as: JobStatusDataResult.self, "GET job .result")
        if status["meta"] != nil { expectStrict(status["meta"], as: JobStatusMeta.self, "GET job .meta") }
        let twoD = try f.t.call(.POST, "\(ds)/embeddings/\(eid)/trigger2dEmbeddingsJob", token: f.token,
                                json: #"{"dimensionalityReductionMethod":"PCA"}"#)
        #expect(twoD.status / 100 == 2)
        if let j = twoD.json["jobId"]?.stringValue { _ = try f.poll(j) }

        expectStrictList(try f.t.call(.GET, "/v1/datasets", token: f.token).json, as: DatasetData.self, "GET datasets")
        expectStrictList(try f.t.call(.GET, "/v1/datasets/query/name/ds?exact=True", token: f.token).json, as: DatasetData.self, "query by name")
        expectStrict(try f.t.call(.GET, ds, token: f.token).json, as: DatasetData.self, "GET dataset")
        let tags = try f.t.call(.GET, "\(ds)/tags", token: f.token).json
        expectStrictList(tags, as: TagData.self, "GET tags", minCount: 2)
        #expect(tags[0]?["prevTagId"] == .null)
        expectStrict(try f.t.call(.GET, "\(ds)/tags/\(initial)", token: f.token).json, as: TagData.self, "GET tag")
        for mode in ["ids", "fileNames", "full"] {
            expectStrictList(try f.t.call(.GET, "\(ds)/samples/partial?mode=\(mode)", token: f.token).json,
                             as: SampleDataModes.self, "samples/partial \(mode)")
        }
        expectStrictList(try f.t.call(.GET, "\(ds)/embeddings", token: f.token).json, as: DatasetEmbeddingData.self, "GET embeddings")
        let projections = try f.t.call(.GET, "\(ds)/embeddings/\(eid)/2d", token: f.token).json
        expectStrictList(projections, as: Embedding2dData.self, "GET 2d")
        for p in projections.arrayValue ?? [] {
            #expect(isObjectId(p["id"]?.stringValue), "Embedding2dData.id must be 24 hex digits: \(String(describing: p["id"]))")
        }
        // Stable across requests.
        #expect(try f.t.call(.GET, "\(ds)/embeddings/\(eid)/2d", token: f.token).json[0]?["id"] == projections[0]?["id"])
        // /enriched: DatasetDataEnriched, with the sample ids in mapping order and the counts.
        let enriched = try f.t.call(.GET, "/v1/datasets/enriched", token: f.token).json
        expectStrictList(enriched, as: DatasetDataEnriched.self, "GET datasets/enriched")
        let mine = try #require(enriched.arrayValue?.first { $0["id"]?.stringValue == f.datasetId })
        let mappingIds = try f.t.call(.GET, "\(ds)/mappings?field=_id", token: f.token).json
        #expect(mine["samples"] == mappingIds && mappingIds.arrayValue?.count == n)
        #expect(mine["nTags"]?.intValue == Int64(tags.arrayValue?.count ?? -1))
        #expect(mine["nEmbeddings"]?.intValue == 1)
        // Its paging and the `limit` alias still apply.
        #expect(try f.t.call(.GET, "/v1/datasets/enriched?limit=1", token: f.token).json.arrayValue?.count == 1)
        #expect(try f.t.call(.GET, "/v1/datasets/enriched?getAssetsOfTeam=True", token: f.token).json == .array([]))
        expectStrict(try f.t.call(.GET, "\(ds)/embeddings/writeCSVUrl?name=second", token: f.token).json,
                     as: WriteCSVUrlData.self, "writeCSVUrl")
        expectStrict(try f.t.call(.POST, "\(ds)/tags/arithmetics/bitmask", token: f.token,
                                  json: #"{"tagId1":"\#(initial)","tagId2":"\#(initial)","operation":"UNION"}"#).json,
                     as: TagBitMaskResponse.self, "arithmetics/bitmask")
        let sample0 = try #require(f.t.call(.GET, "\(ds)/samples/partial?mode=ids", token: f.token).json[0]?["id"]?.stringValue)
        expectStrict(try f.t.call(.GET, "\(ds)/samples/\(sample0)/writeurls", token: f.token).json, as: SampleWriteUrls.self, "writeurls")
        let export = "\(ds)/tags/\(initial)/export"
        let tasks = try f.t.call(.GET, "\(export)/LabelStudio/tasks?includeMetaData=True", token: f.token).json
        expectStrictList(tasks, as: LabelStudioTask.self, "LabelStudio tasks")
        expectStrict(tasks[0]?["data"], as: LabelStudioTaskData.self, "LabelStudio task data")
        expectStrict(tasks[0]?["data"]?["lightlyMetaInfo"], as: SampleData.self, "LabelStudio lightlyMetaInfo")
        expectStrictList(try f.t.call(.GET, "\(export)/LabelBox/datarows", token: f.token).json, as: LabelBoxDataRow.self, "LabelBox")
        expectStrictList(try f.t.call(.GET, "\(export)/LabelBoxV4/datarows", token: f.token).json, as: LabelBoxV4DataRow.self, "LabelBoxV4")
        let createTag = try f.t.call(.POST, "\(ds)/tags", token: f.token,
                                     json: #"{"name":"mine","prevTagId":"\#(initial)","bitMaskData":"0x3","totSize":\#(n),"creator":"USER_PIP"}"#)
        expectStrict(createTag.json, as: CreateEntityResponse.self, "POST tags")
    }
}

/// `true` for a MongoDB-style ObjectId: exactly 24 lowercase hex digits (`^[a-f0-9]{24}$`).
func isObjectId(_ s: String?) -> Bool {
    guard let s, s.utf8.count == 24 else { return false }
    return s.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
}

@Suite struct ClientReleaseTests {
    @Test func strictReleasesAreToldByTheirUserAgent() {
        let tail = " (Linux/6.1.0; Linux-6.1.0-x86_64-with-glibc2.36; ;) python/3.11.2"
        #expect(ClientRelease.isStrict(userAgent: "OpenAPI-Generator/1.0.0/python"))
        #expect(ClientRelease.isStrict(userAgent: "Lightly/1.4.8" + tail))
        #expect(ClientRelease.isStrict(userAgent: "Lightly/1.5.26" + tail))
        #expect(ClientRelease.isStrict(userAgent: "Lightly/1.10.0" + tail))
        #expect(ClientRelease.isStrict(userAgent: "Lightly/2.0" + tail))
        #expect(!ClientRelease.isStrict(userAgent: "Lightly/1.4.7" + tail))
        #expect(!ClientRelease.isStrict(userAgent: "Lightly/1.3.0" + tail))
        #expect(!ClientRelease.isStrict(userAgent: "Lightly/1.2.30/python (Linux-6.1.0)"))
        #expect(!ClientRelease.isStrict(userAgent: "Swagger-Codegen/1.0.0/python"))
        #expect(!ClientRelease.isStrict(userAgent: "Lightly/garbage"))
        #expect(!ClientRelease.isStrict(userAgent: "Lightly/"))
        #expect(!ClientRelease.isStrict(userAgent: "curl/8.0"))
        #expect(!ClientRelease.isStrict(userAgent: ""))
        #expect(!ClientRelease.isStrict(userAgent: nil))
        func version(_ ua: String) -> [Int]? { ClientRelease.lightlyVersion(userAgent: ua).map { [$0.0, $0.1, $0.2] } }
        #expect(version("Lightly/1.10.0" + tail) == [1, 10, 0])
        #expect(version("Lightly/1.2.30/python (x)") == [1, 2, 30])
        #expect(version("Lightly/1.5.0rc1") == [1, 5, 0])
        #expect(version("Lightly/99999999999999999999.0.0") == nil)
    }

    /// `POST tags/arithmetics`: a strict release gets exactly one shape of its oneOf (`{id}`
    /// when a tag was created, `{bitMaskData}` otherwise); older clients get both fields.
    @Test func tagArithmeticsAnswersOneShapeToStrictClientsAndBothToOlderOnes() throws {
        let n = 6
        let f = try JobsHTTPFixture.make(samples: n, pollWait: 0)
        defer { f.stop() }
        let ds = "/v1/datasets/\(f.datasetId)"
        let initial = try #require(f.initialTagId)
        func arithmetics(userAgent: String?, newTagName: String?) throws -> TestResponse {
            var headers: HTTPHeaders = ["Host": "testhost:8080"]
            if let userAgent { headers["User-Agent"] = userAgent }
            let name = newTagName.map { #","newTagName":"\#($0)""# } ?? ""
            let body = #"{"tagId1":"\#(initial)","tagId2":"\#(initial)","operation":"UNION"\#(name)}"#
            return try f.t.call(.POST, "\(ds)/tags/arithmetics?token=\(f.token)", json: body, headers: headers)
        }
        let full = "0x" + String(1 << n - 1, radix: 16)
        for ua in ["OpenAPI-Generator/1.0.0/python", "Lightly/1.5.26 (Linux/6.1.0; x;) python/3.11.2"] {
            let plain = try arithmetics(userAgent: ua, newTagName: nil)
            #expect(plain.status == 200)
            expectStrict(plain.json, as: TagBitMaskResponse.self, "\(ua) without newTagName")
            #expect(plain.json["bitMaskData"]?.stringValue == full)
            let tagName = "made-\(ua.prefix(4))"
            let made = try arithmetics(userAgent: ua, newTagName: tagName)
            #expect(made.status == 201)
            expectStrict(made.json, as: CreateEntityResponse.self, "\(ua) with newTagName")
            let tags = try f.t.call(.GET, "\(ds)/tags", token: f.token).json.arrayValue ?? []
            #expect(tags.first { $0["name"]?.stringValue == tagName }?["id"] == made.json["id"])
        }
        for ua in ["Lightly/1.4.7 (Linux/6.1.0; x;) python/3.10", "Swagger-Codegen/1.0.0/python", nil] {
            for newTagName in [nil, "old-\(ua?.prefix(3) ?? "none")"] {
                let r = try arithmetics(userAgent: ua, newTagName: newTagName)
                #expect(r.status == (newTagName == nil ? 200 : 201))
                #expect(r.json["bitMaskData"]?.stringValue == full, "\(String(describing: ua)): \(r.text)")
                #expect(isObjectId(r.json["id"]?.stringValue), "\(String(describing: ua)): \(r.text)")
            }
        }
    }
}

@Suite struct JobTimestampTests {
    /// One timed sampling job as a client polling every 5 ms sees it.
    struct Observation {
        var clientDuration: Int64
        var serverDuration: Int64
        var commit: Int64
        var wallTime: Int64
        var description: String {
            "client \(clientDuration) ms, server finishedAt − createdAt \(serverDuration) ms, one commit \(commit) ms"
        }
    }

    /// Triggers a CORESET job on `n` × 32 points and polls it every 5 ms until FINISHED.
    static func observe(n: Int) throws -> Observation {
        let d = 32
        let f = try JobsHTTPFixture.make(samples: 0, initialTag: false, pollWait: 0)
        defer { f.stop() }
        let pts = testPoints(n: n, d: d)
        // Uploading into an empty dataset creates the samples and the initial tag.
        let (eid, put) = try f.upload(embeddingCSV((0 ..< n).map { ("s\($0).png", Array(pts[($0 * d) ..< ($0 * d + d)])) }))
        #expect(put.status == 200, "\(put.text)")
        let body = #"{"newTagName":"slow","method":"CORESET","config":{"stoppingCondition":{"nSamples":\#(n / 4),"minDistance":-1}},"rowCount":\#(n)}"#
        // The client's view: the trigger went out at `sent` and was answered at `accepted`;
        // the last poll that still saw the job unfinished went out at `lastUnfinished`, the
        // first that saw FINISHED was answered at `seen`.
        let sent = Timestamp.wallMillis()
        let trig = try f.sample(eid, body)
        let accepted = Timestamp.wallMillis()
        let jobId = try trig.decode(AsyncTaskData.self).jobId
        var status: JobStatusData
        var lastUnfinished = accepted
        while true {
            let pollSent = Timestamp.wallMillis()
            status = try f.t.call(.GET, "/v1/jobs/\(jobId)", token: f.token).decode(JobStatusData.self)
            if status.status.isTerminal || pollSent - sent > 120_000 { break }
            lastUnfinished = pollSent
            usleep(5_000)
        }
        let seen = Timestamp.wallMillis()
        #expect(status.status == .finished, "\(status.error ?? "")")
        let finishedAt = try #require(status.finishedAt)
        // createdAt is when the trigger was accepted, finishedAt when the result was stored:
        // both inside the client's windows.
        #expect(status.createdAt >= sent && status.createdAt <= accepted)
        #expect(finishedAt >= status.createdAt && finishedAt <= seen)
        // The result becomes visible once its transaction has committed (WAL + fsync), so a
        // poll can still see RUNNING for about one commit after `finishedAt`.
        let commitStart = Timestamp.wallMillis()
        try f.t.app.database.write { conn in _ = try conn.run("UPDATE jobs SET status = status WHERE id = ?", jobId) }
        let commit = Timestamp.wallMillis() - commitStart
        // The client's estimate: from the middle of the trigger's round trip to the middle of
        // the window in which the job finished (a few ms each on an idle machine).
        return Observation(clientDuration: (lastUnfinished + seen) / 2 - (sent + accepted) / 2,
                           serverDuration: finishedAt - status.createdAt, commit: commit, wallTime: seen - sent)
    }

    /// A job's `finishedAt − createdAt` is the time from the accepted trigger to the stored
    /// result: within 50 ms (plus one commit) of what a client polling every 5 ms measures.
    /// The job is grown until it lasts ≥ 150 ms. Scheduling noise on a loaded machine can
    /// exceed 50 ms in one run, so up to three runs are made and the best must fit; a fake
    /// duration (the 2 ms reported for a 1.8 s job) fails all three.
    @Test func finishedMinusCreatedIsTheDurationAClientSees() throws {
        var n = 2000
        var seen: [Observation] = []
        while seen.count < 3 {
            let o = try Self.observe(n: n)
            if o.wallTime < 150 && n < 64_000 {
                n *= 2   // too quick to tell a real duration from a fake one: grow the job
                continue
            }
            seen.append(o)
            if abs(o.clientDuration - o.serverDuration) <= 50 + o.commit { break }
        }
        let best = try #require(seen.min { abs($0.clientDuration - $0.serverDuration) < abs($1.clientDuration - $1.serverDuration) })
        #expect(best.wallTime >= 150, "the job was too quick (\(best.wallTime) ms) to check durations")
        #expect(abs(best.clientDuration - best.serverDuration) <= 50 + best.commit,
                "n = \(n): \(seen.map(\.description).joined(separator: "; "))")
    }
}
