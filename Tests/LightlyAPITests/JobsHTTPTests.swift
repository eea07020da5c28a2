#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTPKit
@testable import LightlyAPI
import LightlyCore
import LightlyStorage
import LightlyWire
import Logging
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A started application with one user, one dataset of `n` samples (`img_000.jpg`… created
/// through the API) and its initial tag. Everything goes through `app.handler.handle`.
struct JobsHTTPFixture {
    let t: TestApp
    let token: String
    let datasetId: String
    let initialTagId: String?

    static func make(samples n: Int, initialTag: Bool = true, pollWait: Int = 1, memoryBudget: Int? = nil) throws -> JobsHTTPFixture {
        var settings = APISettings(jobPollWait: pollWait)
        if let memoryBudget { settings.memoryBudget = memoryBudget }
        let t = try TestApp.make(settings: settings)
        t.app.start()
        let token = try t.makeUser("alice")
        let ds = try t.call(.POST, "/v1/datasets", token: token, json: #"{"name": "ds"}"#)
        let datasetId = try #require(ds.json["id"]?.stringValue, "\(ds.text)")
        for i in 0 ..< n {
            let r = try t.call(.POST, "/v1/datasets/\(datasetId)/samples", token: token,
                               json: #"{"fileName": "\#(JobsFixture.name(i))", "metaData": {}}"#)
            #expect(r.status / 100 == 2, "\(r.text)")
        }
        var initial: String?
        if initialTag {
            let r = try t.call(.POST, "/v1/datasets/\(datasetId)/tags/initial", token: token, json: #"{"imgType": "meta", "creator": "USER_PIP"}"#)
            initial = r.json["id"]?.stringValue
        }
        return JobsHTTPFixture(t: t, token: token, datasetId: datasetId, initialTagId: initial)
    }

    func stop() { t.app.stop() }

    /// The path and query of an absolute signed URL.
    static func target(of url: String) -> String {
        // Skip "http://host": the path starts at the first "/" after the scheme.
        let afterScheme = url.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
        return afterScheme.count == 4 ? "/" + afterScheme[3] : url
    }

    /// `writeCSVUrl` then the signed PUT. Returns the embedding id and the PUT response.
    func upload(_ csv: String, name: String = "emb", asFile: Bool = false) throws -> (String, TestResponse) {
        let w = try t.call(.GET, "/v1/datasets/\(datasetId)/embeddings/writeCSVUrl?name=\(name)", token: token)
        let data = try w.decode(WriteCSVUrlData.self)
        #expect(data.signedWriteUrl.hasPrefix("http://testhost:8080/signed/csv/"))
        var body = HTTPRequestBody.bytes(Data(csv.utf8))
        if asFile {
            let path = t.directory + "/upload-\(UInt32.random(in: 0 ... .max)).csv"
            try Data(csv.utf8).write(to: URL(fileURLWithPath: path))
            body = .file(path: path, count: csv.utf8.count)
        }
        let put = try t.call(.PUT, JobsHTTPFixture.target(of: data.signedWriteUrl), body: body)
        return (data.embeddingId, put)
    }

    func embeddings() throws -> [DatasetEmbeddingData] {
        try t.call(.GET, "/v1/datasets/\(datasetId)/embeddings", token: token).decode([DatasetEmbeddingData].self)
    }

    func sample(_ embeddingId: String, _ body: String) throws -> TestResponse {
        try t.call(.POST, "/v1/datasets/\(datasetId)/embeddings/\(embeddingId)/sampling", token: token, json: body)
    }

    /// Polls `GET /v1/jobs/{id}` until the job is done.
    func poll(_ jobId: String, timeout: Double = 30) throws -> JobStatusData {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let s = try t.call(.GET, "/v1/jobs/\(jobId)", token: token).decode(JobStatusData.self)
            if s.status.isTerminal || Date() > deadline { return s }
            #expect(s.waitTimeTillNextPoll == t.app.settings.jobPollWait)
            usleep(5_000)
        }
    }

    func tag(_ id: String) throws -> TagData {
        try t.call(.GET, "/v1/datasets/\(datasetId)/tags/\(id)", token: token).decode(TagData.self)
    }

    /// The `creator` stored for a tag (not part of the wire form).
    func storedCreator(_ tagId: String) throws -> String? {
        try t.app.database.read { try $0.queryOne("SELECT creator FROM tags WHERE id = ?", tagId)?.stringOrNil(0) }
    }
}

@Suite struct JobsHTTPTests {
    // MARK: - Embedding CSV

    @Test(arguments: [false, true])
    func csvUploadShuffledIsStoredInMappingOrder(asFile: Bool) throws {
        let n = 9, d = 4
        let f = try JobsHTTPFixture.make(samples: n)
        defer { f.stop() }
        let pts = testPoints(n: n, d: d)
        let order = [8, 3, 0, 5, 1, 7, 2, 6, 4]
        let (eid, put) = try f.upload(embeddingCSV(order.map { (JobsFixture.name($0), Array(pts[($0 * d) ..< ($0 * d + d)])) }), asFile: asFile)
        #expect(put.status == 200, "\(put.text)")
        let list = try f.embeddings()
        #expect(list.map(\.id) == [eid] && list[0].isProcessed && list[0].name == "emb")
        // Read back: matrix and CSV are in mapping order.
        let m = try f.t.app.database.read { conn in try EmbeddingStore.loadMatrix(embeddingId: eid, rows: n, dimension: d, conn) }
        for i in 0 ..< n { #expect(m.row(i) == Array(pts[(i * d) ..< (i * d + d)])) }
        let url = try f.t.call(.GET, "/v1/datasets/\(f.datasetId)/embeddings/\(eid)/readCSVUrl", token: f.token)
        let csv = try f.t.call(.GET, JobsHTTPFixture.target(of: try #require(url.json.stringValue)))
        #expect(csv.status == 200)
        let parsed = try EmbeddingCSV.parse(csv.bytes)
        #expect(parsed.filenames == (0 ..< n).map(JobsFixture.name))
        #expect(parsed.values == pts)
    }

    @Test(arguments: [
        ("wrong header", "file,embedding_0\nimg_000.jpg,1\nimg_001.jpg,1\nimg_002.jpg,1\n"),
        ("ragged row", "filenames,embedding_0,embedding_1\nimg_000.jpg,1,2\nimg_001.jpg,1\nimg_002.jpg,1,2\n"),
        ("NaN", "filenames,embedding_0\nimg_000.jpg,1\nimg_001.jpg,NaN\nimg_002.jpg,1\n"),
        ("unknown filename", "filenames,embedding_0\nimg_000.jpg,1\nimg_009.jpg,1\nimg_002.jpg,1\n"),
        ("duplicate filename", "filenames,embedding_0\nimg_000.jpg,1\nimg_002.jpg,1\nimg_002.jpg,1\n"),
        ("missing filename", "filenames,embedding_0\nimg_000.jpg,1\nimg_001.jpg,1\n"),
        ("wrong dimension mid-file", "filenames,embedding_0,embedding_1\nimg_000.jpg,1,2\nimg_001.jpg,1,2,3\nimg_002.jpg,1,2\n"),
        ("truncated", "filenames,embedding_0,embedding_1\nimg_000.jpg,1,2\nimg_001.jpg,1,"),
        ("empty body", ""),
    ])
    func badCSVIs400AndChangesNothing(_ c: (String, String)) throws {
        let f = try JobsHTTPFixture.make(samples: 3)
        defer { f.stop() }
        let (good, ok) = try f.upload(embeddingCSV((0 ..< 3).map { (JobsFixture.name($0), [Float($0), 9]) }), name: "good")
        #expect(ok.status == 200)
        let (bad, put) = try f.upload(c.1, name: "bad")
        #expect(put.status == 400, "\(c.0)")
        #expect(put.errorCode == "EMBEDDING_INVALID", "\(c.0): \(put.text)")
        let message = put.json["message"]?.stringValue ?? ""
        #expect(c.0 == "empty body" || c.0 == "missing filename" || c.0 == "wrong header" || message.contains("row "), "\(c.0): \(message)")
        let list = try f.embeddings()
        #expect(list.first { $0.id == bad }?.isProcessed == false)
        #expect(list.first { $0.id == good }?.isProcessed == true)
        let m = try f.t.app.database.read { conn in try EmbeddingStore.loadMatrix(embeddingId: good, rows: 3, dimension: 2, conn) }
        #expect(m.row(1) == [1, 9])
        let names = try f.t.call(.GET, "/v1/datasets/\(f.datasetId)/mappings?field=fileName", token: f.token).decode([String].self)
        #expect(names.count == 3)
    }

    @Test func csvCreatesSamplesOnEmptyDataset() throws {
        let f = try JobsHTTPFixture.make(samples: 0, initialTag: false)
        defer { f.stop() }
        // Prime the mapping cache: the upload must invalidate it.
        _ = try f.t.call(.GET, "/v1/datasets/\(f.datasetId)/mappings?field=fileName", token: f.token)
        let (_, bad) = try f.upload("filenames,embedding_0\nb.jpg,1\na.jpg,inf\n", name: "bad")
        #expect(bad.status == 400)
        #expect(try f.t.call(.GET, "/v1/datasets/\(f.datasetId)/mappings?field=fileName", token: f.token).decode([String].self) == [])
        let (eid, put) = try f.upload("filenames,embedding_0,labels\nb.jpg,1,0\na.jpg,2,1\nc/d.jpg,3,0\n")
        #expect(put.status == 200, "\(put.text)")
        let names = try f.t.call(.GET, "/v1/datasets/\(f.datasetId)/mappings?field=fileName", token: f.token).decode([String].self)
        #expect(names == ["b.jpg", "a.jpg", "c/d.jpg"])
        #expect(try f.embeddings().first { $0.id == eid }?.isProcessed == true)
    }

    // MARK: - Scores

    @Test func scoreUploadValidationAndReplace() throws {
        let f = try JobsHTTPFixture.make(samples: 4)
        defer { f.stop() }
        let tag = try #require(f.initialTagId)
        let path = "/v1/datasets/\(f.datasetId)/tags/\(tag)/scores"
        for bad in [#"{"scoreType": "m", "scores": []}"#, #"{"scoreType": "m", "scores": [0, 0, 0, 0, 0]}"#,
                    #"{"scoreType": "m", "scores": [0.5, -1]}"#, #"{"scoreType": "m", "scores": [NaN]}"#,
                    #"{"scoreType": "m"}"#] {
            let r = try f.t.call(.POST, path, token: f.token, json: bad)
            #expect(r.status == 400, "\(bad): \(r.text)")
        }
        let a = try f.t.call(.POST, path, token: f.token, json: #"{"scoreType": "uncertainty_margin", "scores": [0.1, 0.2, 0.3, 0.4]}"#)
        #expect(a.status / 100 == 2)
        let id = try #require(a.json["id"]?.stringValue)
        let b = try f.t.call(.POST, path, token: f.token, json: #"{"scoreType": "uncertainty_margin", "scores": [1, 2]}"#)
        #expect(b.json["id"]?.stringValue == id)
        let list = try f.t.call(.GET, path, token: f.token).decode([TagActiveLearningScoresData].self)
        #expect(list.map(\.id) == [id] && list[0].scoreType == "uncertainty_margin")
        let one = try f.t.call(.GET, "\(path)/\(id)", token: f.token).decode(ActiveLearningScoreData.self)
        #expect(one.scores == [1, 2])
        #expect(try f.t.call(.GET, "\(path)/000000000000000000000000", token: f.token).errorCode == "SCORE_UNKNOWN")
        #expect(try f.t.call(.POST, "/v1/datasets/\(f.datasetId)/tags/000000000000000000000000/scores", token: f.token,
                             json: #"{"scoreType": "m", "scores": [1]}"#).status == 404)
    }

    // MARK: - Sampling

    @Test func samplingTriggerValidation() throws {
        let f = try JobsHTTPFixture.make(samples: 5)
        defer { f.stop() }
        // A second dataset of the same user, with its own initial tag.
        let ds2 = try f.t.call(.POST, "/v1/datasets", token: f.token, json: #"{"name": "other"}"#).json["id"]?.stringValue ?? ""
        _ = try f.t.call(.POST, "/v1/datasets/\(ds2)/samples", token: f.token, json: #"{"fileName": "x.jpg", "metaData": {}}"#)
        let foreign = try #require(try f.t.call(.POST, "/v1/datasets/\(ds2)/tags/initial", token: f.token,
                                                json: #"{"imgType": "meta"}"#).json["id"]?.stringValue)
        let (pending, _) = try f.upload("filenames,embedding_0\nimg_000.jpg,1\n", name: "broken")   // stays unprocessed
        let (eid, put) = try f.upload(embeddingCSV((0 ..< 5).map { (JobsFixture.name($0), [Float($0)]) }))
        #expect(put.status == 200)
        func body(_ extra: String = "", name: String = "s1", method: String = "CORESET") -> String {
            #"{"newTagName": "\#(name)", "method": "\#(method)", "config": {"stoppingCondition": {"nSamples": 2, "minDistance": -1}}\#(extra)}"#
        }
        #expect(try f.sample("000000000000000000000000", body()).errorCode == "EMBEDDING_UNKNOWN")
        #expect(try f.sample(pending, body()).errorCode == "EMBEDDING_NOT_READY")
        #expect(try f.sample(eid, body(method: "MAGIC")).status == 400)
        #expect(try f.sample(eid, body(name: "initial-tag")).errorCode == "TAG_NAME_EXISTS")
        #expect(try f.sample(eid, body(#", "queryTagId": "000000000000000000000000""#)).errorCode == "TAG_UNKNOWN")
        #expect(try f.sample(eid, body(#", "preselectedTagId": "\#(foreign)""#)).errorCode == "TAG_PRESELECTEDTAG_NOT_IN_DATASET")
        #expect(try f.sample(eid, body(#", "queryTagId": "\#(foreign)""#)).errorCode == "TAG_QUERYTAG_NOT_IN_DATASET")
        #expect(try f.sample(eid, body(#", "rowCount": 7"#)).status == 400)
        #expect(try f.sample(eid, #"{"method": "CORESET"}"#).status == 400)
        let ok = try f.sample(eid, body(#", "rowCount": 5.0"#))
        #expect(ok.status / 100 == 2, "\(ok.text)")
        #expect(try f.sample(eid, body()).errorCode == "TAG_NAME_EXISTS")   // same name already queued or created
        // Another user can neither see the job nor the dataset.
        let jobId = try ok.decode(AsyncTaskData.self).jobId
        let stranger = try f.t.makeUser("mallory")
        #expect(try f.t.call(.GET, "/v1/jobs/\(jobId)", token: stranger).errorCode == "JOB_UNKNOWN")
        #expect(try f.t.call(.POST, "/v1/datasets/\(f.datasetId)/embeddings/\(eid)/sampling", token: stranger, json: body(name: "x")).status == 404)
        #expect(try f.t.call(.GET, "/v1/jobs", token: stranger).decode([JobsData].self).isEmpty)
        #expect(try f.t.call(.GET, "/v1/jobs", token: f.token).decode([JobsData].self).map(\.jobId).contains(jobId))
    }

    @Test func samplingEndToEndCoresetThenCoral() throws {
        let n = 80, d = 6
        let f = try JobsHTTPFixture.make(samples: n)
        defer { f.stop() }
        let pts = testPoints(n: n, d: d, seed: 3)
        let (eid, put) = try f.upload(embeddingCSV((0 ..< n).map { (JobsFixture.name($0), Array(pts[($0 * d) ..< ($0 * d + d)])) }))
        #expect(put.status == 200)
        let initial = try #require(f.initialTagId)

        // Round 1: CORESET 10, no preselected → greedy k-center from index 0.
        let r1 = try f.sample(eid, #"{"newTagName": "coreset-10", "method": "CORESET", "config": {"stoppingCondition": {"nSamples": 10, "minDistance": -1}}, "queryTagId": "\#(initial)", "rowCount": \#(n)}"#)
        let s1 = try f.poll(try r1.decode(AsyncTaskData.self).jobId)
        #expect(s1.status == .finished && s1.waitTimeTillNextPoll == 0 && s1.result?.type == .sampling && s1.finishedAt != nil)
        let tag1 = try f.tag(try #require(s1.result?.data))
        let bits1 = try #require(BitMask(hex: tag1.bitMaskData))
        #expect(tag1.name == "coreset-10" && tag1.totSize == n && tag1.prevTagId == initial)
        // `creator` is stored but not sent (the strict client models reject it).
        #expect(try f.storedCreator(tag1.id) == "SAMPLER_CORESET")
        #expect(bits1.indices == bruteForceKCenter(points: pts, n: n, d: d, k: 10).sorted())

        // Round 2: CORAL 25 with scores on the query tag (1.1.7+ style): P ∪ picked, prevTagId = P.
        let scores = (0 ..< n).map { String(Double(($0 * 37) % 100) / 100) }.joined(separator: ", ")
        let up = try f.t.call(.POST, "/v1/datasets/\(f.datasetId)/tags/\(initial)/scores", token: f.token,
                              json: #"{"scoreType": "uncertainty_margin", "scores": [\#(scores)]}"#)
        #expect(up.status / 100 == 2)
        let r2 = try f.sample(eid, #"{"newTagName": "coral-25", "method": "CORAL", "config": {"stoppingCondition": {"nSamples": 25, "minDistance": -1}}, "preselectedTagId": "\#(tag1.id)", "queryTagId": "\#(initial)", "rowCount": \#(n)}"#)
        let s2 = try f.poll(try r2.decode(AsyncTaskData.self).jobId)
        #expect(s2.status == .finished, "\(s2.error ?? "")")
        let tag2 = try f.tag(try #require(s2.result?.data))
        let bits2 = try #require(BitMask(hex: tag2.bitMaskData))
        #expect(bits2.count == 25 && bits2.intersection(bits1) == bits1)
        #expect(tag2.prevTagId == tag1.id && tag2.preselectedTagId == tag1.id && tag2.queryTagId == initial)
        #expect(try f.storedCreator(tag2.id) == "SAMPLER_CORAL")

        // RANDOM with a fraction: 0.05 × 80 = 4 samples; deterministic across runs.
        let r3 = try f.sample(eid, #"{"newTagName": "random-a", "method": "RANDOM", "config": {"stoppingCondition": {"nSamples": 0.05, "minDistance": -1}}}"#)
        let r4 = try f.sample(eid, #"{"newTagName": "random-b", "method": "RANDOM", "config": {"stoppingCondition": {"nSamples": 0.05, "minDistance": -1}}}"#)
        let a = try f.tag(try #require(try f.poll(try r3.decode(AsyncTaskData.self).jobId).result?.data))
        let b = try f.tag(try #require(try f.poll(try r4.decode(AsyncTaskData.self).jobId).result?.data))
        #expect(BitMask(hex: a.bitMaskData)?.count == 4 && a.bitMaskData == b.bitMaskData)
    }

    /// A finished job's status answer names its phases in the `X-Lightly-Job-Phases` header
    /// (the strict clients' `JobStatusData` would reject extra body fields): the first job
    /// loads the matrix (`cached=0`), the next one finds it in the cache.
    @Test func statusAnswerCarriesThePhasesInAHeader() throws {
        let n = 40, d = 4
        let f = try JobsHTTPFixture.make(samples: n)
        defer { f.stop() }
        let pts = testPoints(n: n, d: d, seed: 5)
        let (eid, put) = try f.upload(embeddingCSV((0 ..< n).map { (JobsFixture.name($0), Array(pts[($0 * d) ..< ($0 * d + d)])) }))
        #expect(put.status == 200)
        f.t.app.jobs.cache.removeAll()
        var seen: [String] = []
        for (i, cached) in ["0", "1"].enumerated() {
            let r = try f.sample(eid, #"{"newTagName": "c\#(i)", "method": "CORESET", "config": {"stoppingCondition": {"nSamples": 5, "minDistance": -1}}}"#)
            let jobId = try r.decode(AsyncTaskData.self).jobId
            #expect(try f.poll(jobId).status == .finished)
            let status = try f.t.call(.GET, "/v1/jobs/\(jobId)", token: f.token)
            let header = try #require(status.response.headers[HTTPHeaderName("X-Lightly-Job-Phases")])
            var fields: [String: String] = [:]
            for item in header.split(separator: " ") {
                let kv = item.split(separator: "=", maxSplits: 1)
                if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
            }
            seen.append(header)
            for name in ["pickup", "inputs", "load", "select", "write", "rows_read", "distances", "plain_passes"] {
                #expect(fields[name].flatMap { Int($0) } != nil, "\(name) in \(header)")
            }
            #expect(fields["cached"] == cached, "\(header)")
            let keys = Set(status.json.objectValue?.members.map(\.key) ?? [])
            #expect(keys.isSubset(of: JobStatusData.allowedFields), "\(keys)")
        }
        #expect(seen.count == 2)
    }

    /// The matrix of an upload goes into the embedding cache, so the first job does not read
    /// it back; its picks equal those of a job that loads the matrix from SQLite.
    @Test func uploadedMatrixIsCachedAndPicksMatchALoadedOne() throws {
        let n = 60, d = 5
        let f = try JobsHTTPFixture.make(samples: n)
        defer { f.stop() }
        let pts = testPoints(n: n, d: d, seed: 11)
        let rows = (0 ..< n).map { (JobsFixture.name($0), Array(pts[($0 * d) ..< ($0 * d + d)])) }
        let (eid, put) = try f.upload(embeddingCSV(rows.reversed()))   // shuffled: reordered on ingest
        #expect(put.status == 200)
        #expect(f.t.app.jobs.cache.contains(eid))
        func run(_ name: String) throws -> (mask: String, phases: String) {
            let r = try f.sample(eid, #"{"newTagName": "\#(name)", "method": "CORESET", "config": {"stoppingCondition": {"nSamples": 12, "minDistance": -1}}}"#)
            let jobId = try r.decode(AsyncTaskData.self).jobId
            let s = try f.poll(jobId)
            #expect(s.status == .finished)
            let phases = try f.t.call(.GET, "/v1/jobs/\(jobId)", token: f.token).response.headers[HTTPHeaderName("X-Lightly-Job-Phases")] ?? ""
            return (try f.tag(try #require(s.result?.data)).bitMaskData, phases)
        }
        let cached = try run("from-upload")
        #expect(cached.phases.contains("cached=1"), "\(cached.phases)")
        f.t.app.jobs.cache.removeAll()
        let loaded = try run("from-sqlite")
        #expect(loaded.phases.contains("cached=0"), "\(loaded.phases)")
        #expect(cached.mask == loaded.mask)
        #expect(BitMask(hex: cached.mask)?.indices == bruteForceKCenter(points: pts, n: n, d: d, k: 12).sorted())
    }

    @Test func activeLearningWithoutScoresFails() throws {
        let f = try JobsHTTPFixture.make(samples: 6)
        defer { f.stop() }
        let (eid, _) = try f.upload(embeddingCSV((0 ..< 6).map { (JobsFixture.name($0), [Float($0)]) }))
        let initial = try #require(f.initialTagId)
        let r = try f.sample(eid, #"{"newTagName": "al", "method": "ACTIVE_LEARNING", "config": {"stoppingCondition": {"nSamples": 2, "minDistance": -1}}, "queryTagId": "\#(initial)"}"#)
        let s = try f.poll(try r.decode(AsyncTaskData.self).jobId)
        #expect(s.status == .failed && s.result == nil && s.waitTimeTillNextPoll == 0)
        #expect(s.error?.contains("ACTIVE_LEARNING needs scores") == true && s.error?.contains(initial) == true, "\(s.error ?? "")")
    }

    @Test func restartRunsInterruptedJob() throws {
        let f = try JobsHTTPFixture.make(samples: 12)
        let (eid, _) = try f.upload(embeddingCSV((0 ..< 12).map { (JobsFixture.name($0), [Float($0), Float($0 % 3)]) }))
        f.stop()
        // A job the previous process had started when it died.
        let user = try #require(try f.t.app.tokens.authenticate(f.token))
        let req = SamplingCreateRequest(newTagName: "after-restart", method: "CORESET",
                                        config: SamplingConfig(stoppingCondition: SamplingStoppingCondition(nSamples: 3, minDistance: -1)))
        let jobId = try f.t.app.database.write { conn in
            let job = try JobStore.insert(userId: user.id, datasetId: f.datasetId, type: .sampling,
                                          request: String(decoding: try JSONEncoder().encode(SamplingJobInput(datasetId: f.datasetId, embeddingId: eid, request: req)), as: UTF8.self),
                                          now: Int(Timestamp.now()), conn)
            try conn.run("UPDATE jobs SET status = 'RUNNING', started_at = ? WHERE id = ?", Timestamp.now(), job.id)
            return job.id
        }
        #expect(try f.t.call(.GET, "/v1/jobs/\(jobId)", token: f.token).decode(JobStatusData.self).status == .running)
        // A new application instance on the same data.
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let second = try LightlyApplication(database: f.t.app.database, dataDirectory: f.t.app.dataDirectory,
                                            settings: f.t.app.settings, logger: logger)
        second.start()
        defer { second.stop() }
        let g = JobsHTTPFixture(t: TestApp(app: second, directory: f.t.directory + "/unused"), token: f.token,
                                datasetId: f.datasetId, initialTagId: f.initialTagId)
        let s = try g.poll(jobId)
        #expect(s.status == .finished, "\(s.error ?? "")")
        #expect(try BitMask(hex: g.tag(try #require(s.result?.data)).bitMaskData)?.count == 3)
    }

    @Test func twoDimensionalPCAIsStored() throws {
        let n = 10
        let f = try JobsHTTPFixture.make(samples: n)
        defer { f.stop() }
        let (eid, _) = try f.upload(embeddingCSV((0 ..< n).map { (JobsFixture.name($0), [Float($0), Float(2 * $0), 1, Float($0 % 2)]) }))
        var jobs: [String] = []
        for m in ["PCA", "TSNE", "UMAP"] {
            let r = try f.t.call(.POST, "/v1/datasets/\(f.datasetId)/embeddings/\(eid)/trigger2dEmbeddingsJob", token: f.token,
                                 json: #"{"dimensionalityReductionMethod": "\#(m)"}"#)
            #expect(r.status / 100 == 2)
            jobs.append(try r.decode(AsyncTaskData.self).jobId)
        }
        for j in jobs {
            let s = try f.poll(j)
            #expect(s.status == .finished && s.result?.type == .embeddings2D && s.result?.data == eid)
        }
        let list = try f.t.call(.GET, "/v1/datasets/\(f.datasetId)/embeddings/\(eid)/2d", token: f.token).decode([Embedding2dData].self)
        #expect(Set(list.map(\.dimensionalityReductionMethod)) == ["PCA", "TSNE", "UMAP"])
        let pca = try #require(list.first { $0.dimensionalityReductionMethod == "PCA" })
        #expect(pca.coordinatesDimension1.count == n && pca.coordinatesDimension2.count == n && pca.computedWith == nil)
        #expect(try f.embeddings().first?.is2d == true)
        #expect(try f.t.call(.POST, "/v1/datasets/\(f.datasetId)/embeddings/\(eid)/trigger2dEmbeddingsJob", token: f.token,
                             json: #"{"dimensionalityReductionMethod": "MDS"}"#).status == 400)
    }

    /// docs/selection.md §7 through real ACTIVE_LEARNING jobs (top-k by score, so the picks show which
    /// array was used and how it was aligned).
    @Test func scoreAlignmentRulesEndToEnd() throws {
        let n = 8
        let f = try JobsHTTPFixture.make(samples: n)
        defer { f.stop() }
        let (eid, _) = try f.upload(embeddingCSV((0 ..< n).map { (JobsFixture.name($0), [Float($0)]) }))
        let initial = try #require(f.initialTagId)
        // P = {0, 5}  →  Q \ P = [1, 2, 3, 4, 6, 7]
        let labeled = try f.t.call(.POST, "/v1/datasets/\(f.datasetId)/tags", token: f.token,
                                   json: #"{"name": "labeled", "prevTagId": "\#(initial)", "bitMaskData": "0x21", "totSize": 8}"#)
        let p = try #require(labeled.json["id"]?.stringValue, "\(labeled.text)")
        var round = 0
        func al(query: Bool) throws -> [Int] {
            round += 1
            let q = query ? #", "queryTagId": "\#(initial)""# : ""
            let r = try f.sample(eid, #"{"newTagName": "al-\#(round)", "method": "ACTIVE_LEARNING", "config": {"stoppingCondition": {"nSamples": 4, "minDistance": -1}}, "preselectedTagId": "\#(p)"\#(q)}"#)
            let s = try f.poll(try r.decode(AsyncTaskData.self).jobId)
            #expect(s.status == .finished, "\(s.error ?? "")")
            return BitMask(hex: try f.tag(try #require(s.result?.data)).bitMaskData)?.indices ?? []
        }
        func post(_ tag: String, _ type: String, _ values: [Double]) throws {
            let body = #"{"scoreType": "\#(type)", "scores": [\#(values.map { "\($0)" }.joined(separator: ", "))]}"#
            #expect(try f.t.call(.POST, "/v1/datasets/\(f.datasetId)/tags/\(tag)/scores", token: f.token, json: body).status / 100 == 2)
        }
        // Rule 2 (1.1.0–1.1.6): |Q \ P| values on the preselected tag, no queryTagId.
        try post(p, "prediction-margin", [0.1, 0.9, 0.2, 0.8, 0.3, 0.7])      // → samples 2 and 4
        #expect(try al(query: false) == [0, 2, 4, 5])
        // Rule 1 wins once it is the most recent upload (rule 4): |Q| values on the query tag.
        try post(initial, "uncertainty_margin", [0.0, 0.95, 0.1, 0.1, 0.1, 0.99, 0.1, 0.9])   // → 1 and 7 (5 is in P)
        #expect(try al(query: true) == [0, 1, 5, 7])
        // …and rule 2 again after a fresher upload on the preselected tag.
        try post(p, "prediction-margin", [0.1, 0.2, 0.9, 0.3, 0.8, 0.1])      // → samples 3 and 6
        #expect(try al(query: true) == [0, 3, 5, 6])
    }
}
