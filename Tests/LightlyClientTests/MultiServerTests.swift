import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif
import LightlyStorage
import PostgresTestSupport
import Testing

/// Two real `lightly-server serve` processes on one store and one data folder, the way a team
/// runs several servers behind a load balancer: clients spread over both, a signed URL minted
/// by one is used on the other, a job queued on one is polled on the other, one server is
/// killed (`kill -9`) while it runs a job and the other finishes it, and a token revoked in the
/// store stops working on both.
///
/// The store is the data folder's SQLite file shared by both processes (what a restart
/// overlap looks like), or a PostgreSQL database (`serve --database`) when the PostgreSQL
/// binaries are installed; see ``MultiServerBackend``.
@Suite(.serialized) struct MultiServerTests {
    static let admin = "admin-token-for-multi-server-tests"

    /// Two servers on one data folder (and database).
    final class Pair: @unchecked Sendable {
        // @unchecked: the servers change only from the test's own task (start/kill).
        let dir: String
        let backend: MultiServerBackend
        /// The PostgreSQL database (empty: the first servers to start migrate it together).
        let databaseURL: String?
        var servers: [ServerProcess] = []
        var token = ""

        init(_ backend: MultiServerBackend) throws {
            self.backend = backend
            dir = NSTemporaryDirectory() + "lightly-multi-\(UUID().uuidString)"
            databaseURL = backend == .postgres ? try PostgresTestServer.shared().makeDatabase() : nil
        }

        /// The arguments that select the store, for `serve` and the `token` commands.
        var storeArguments: [String] { ["--data-dir", dir] + (databaseURL.map { ["--database", $0] } ?? []) }

        /// Starts one more server on the shared folder and store.
        @discardableResult
        func startServer(lease: Double = 2, extra: [String] = []) throws -> ServerProcess {
            let s = ServerProcess(dataDir: dir)
            try s.start(extraArguments: ["--job-poll-wait", "0", "--admin-token", MultiServerTests.admin,
                                         "--job-lease", String(lease)] + (databaseURL.map { ["--database", $0] } ?? []) + extra)
            if token.isEmpty { token = s.token }
            servers.append(s)
            return s
        }

        func stopAll() {
            for s in servers { s.stop() }
            try? FileManager.default.removeItem(atPath: dir)
        }

        /// One request to server `i % servers.count`; `/v1/` paths get the token. A full URL
        /// (a signed URL minted by any server) goes to that server too. Status 0: no answer.
        func call(_ i: Int, _ method: String, _ pathOrURL: String, json: String? = nil, body: Data? = nil,
                  admin: Bool = false, timeout: Double = 60) async -> (status: Int, body: Data) {
            let server = servers[i % servers.count]
            var path = pathOrURL
            if path.hasPrefix("http"), let slash = path.dropFirst("https://".count).firstIndex(of: "/") {
                path = String(path[slash...])
            }
            var target = server.url + path
            if path.hasPrefix("/v1/"), !path.contains("token=") { target += (target.contains("?") ? "&" : "?") + "token=" + token }
            guard let u = URL(string: target) else { return (0, Data()) }
            var r = URLRequest(url: u, timeoutInterval: timeout)
            r.httpMethod = method
            if admin { r.setValue("Bearer \(MultiServerTests.admin)", forHTTPHeaderField: "Authorization") }
            if let json { r.httpBody = Data(json.utf8); r.setValue("application/json", forHTTPHeaderField: "Content-Type") }
            if let body { r.httpBody = body }
            // A 503 ("the database is busy; retry") is retried a few times, as the lightly
            // client retries failed calls: servers whose transactions keep conflicting may
            // answer it, and it promises that nothing was stored.
            for attempt in 0 ..< 6 {
                do {
                    let (data, resp) = try await URLSession.shared.data(for: r)
                    let status = (resp as? HTTPURLResponse)?.statusCode ?? 0
                    if status == 503, attempt < 5, MultiServerTests.isBusy(data) {
                        busyRetries.withLock { $0 += 1 }
                        try? await Task.sleep(for: .milliseconds(50 * (attempt + 1)))
                        continue
                    }
                    return (status, data)
                } catch {
                    return (0, Data())
                }
            }
            return (0, Data())
        }

        /// How many 503 busy answers were retried.
        let busyRetries = Locked(0)
    }

    static func isBusy(_ data: Data) -> Bool { json(data)["code"] as? String == "SERVICE_UNAVAILABLE" }

    static func json(_ data: Data) -> [String: Any] { (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:] }

    /// Deterministic embeddings: `n` rows of dimension `d`.
    static func csv(_ names: [String], d: Int, seed: UInt64) -> String {
        var state = seed
        func next() -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
        }
        var s = "filenames," + (0 ..< d).map { "embedding_\($0)" }.joined(separator: ",") + ",labels\n"
        for n in names { s += n + "," + (0 ..< d).map { _ in String(format: "%.6f", next()) }.joined(separator: ",") + ",0\n" }
        return s
    }

    /// What one client's run of the seed workflow produced, or where it failed.
    struct Outcome: Sendable {
        var failure: String?
        var bitmask: String?
    }

    /// The seed workflow, each step through the next server in turn (`start` picks the first):
    /// create a dataset, create samples and upload an image to each through its signed URL,
    /// the initial tag, an embeddings CSV (URL from one server, PUT to the other), a CORESET
    /// selection queued on one server and polled on the other, and the new tag read back.
    static func seedWorkflow(_ pair: Pair, client: Int, samples n: Int = 12, dimension d: Int = 8,
                             pick k: Int = 4, seed: UInt64 = 7, start: Int = 0) async -> Outcome {
        var step = start
        func next() -> Int { defer { step += 1 }; return step }
        func fail(_ what: String, _ r: (status: Int, body: Data)) -> Outcome {
            Outcome(failure: "client \(client): \(what) → \(r.status) \(String(decoding: r.body.prefix(300), as: UTF8.self))")
        }
        var r = await pair.call(next(), "POST", "/v1/datasets", json: #"{"name":"multi-\#(client)-\#(UUID().uuidString.prefix(8))"}"#)
        guard r.status == 201, let ds = json(r.body)["id"] as? String else { return fail("create dataset", r) }
        let names = (0 ..< n).map { "img_\($0).jpg" }
        for name in names {
            r = await pair.call(next(), "POST", "/v1/datasets/\(ds)/samples", json: #"{"fileName":"\#(name)","metaData":{"sizeInBytes":4}}"#)
            guard r.status == 201, let sid = json(r.body)["id"] as? String else { return fail("create sample", r) }
            r = await pair.call(next(), "GET", "/v1/datasets/\(ds)/samples/\(sid)/writeurl?isThumbnail=False")
            guard r.status == 200, let url = try? JSONDecoder().decode(String.self, from: r.body) else { return fail("writeurl", r) }
            // The signed URL was minted by one server; the next step sends it to the other.
            r = await pair.call(next(), "PUT", url, body: Data("img-\(client)-\(name)".utf8))
            guard r.status == 200 else { return fail("PUT image via the other server", r) }
        }
        r = await pair.call(next(), "POST", "/v1/datasets/\(ds)/tags/initial", json: #"{"imgType":"full"}"#)
        guard r.status == 201, let initial = json(r.body)["id"] as? String else { return fail("initial tag", r) }
        r = await pair.call(next(), "GET", "/v1/datasets/\(ds)/embeddings/writeCSVUrl?name=emb")
        guard r.status == 200, let put = json(r.body)["signedWriteUrl"] as? String, let eid = json(r.body)["embeddingId"] as? String
        else { return fail("writeCSVUrl", r) }
        r = await pair.call(next(), "PUT", put, body: Data(csv(names, d: d, seed: seed).utf8))
        guard r.status == 200 else { return fail("PUT embeddings CSV", r) }
        r = await pair.call(next(), "POST", "/v1/datasets/\(ds)/embeddings/\(eid)/sampling",
                            json: #"{"newTagName":"picked","method":"CORESET","preselectedTagId":null,"queryTagId":"\#(initial)","config":{"stoppingCondition":{"nSamples":\#(k)}}}"#)
        guard r.status == 200, let job = json(r.body)["jobId"] as? String else { return fail("sampling", r) }
        guard let tag = await waitForJob(pair, job, startingAt: next()) else { return Outcome(failure: "client \(client): job \(job) did not finish") }
        r = await pair.call(next(), "GET", "/v1/datasets/\(ds)/tags/\(tag)")
        guard r.status == 200, let bits = json(r.body)["bitMaskData"] as? String else { return fail("read tag", r) }
        // The other server answers the same.
        let again = await pair.call(next(), "GET", "/v1/datasets/\(ds)/tags/\(tag)")
        guard again.status == 200, json(again.body)["bitMaskData"] as? String == bits else { return fail("read tag on the other server", again) }
        return Outcome(failure: nil, bitmask: bits)
    }

    /// Polls the job, alternating servers from `startingAt`; returns the result tag id once
    /// FINISHED, nil when FAILED or not done within `timeout` seconds.
    static func waitForJob(_ pair: Pair, _ job: String, startingAt: Int, timeout: Double = 120) async -> String? {
        var i = startingAt
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let r = await pair.call(i, "GET", "/v1/jobs/\(job)")
            i += 1
            let o = json(r.body)
            if o["status"] as? String == "FINISHED" { return (o["result"] as? [String: Any])?["data"] as? String }
            if o["status"] as? String == "FAILED" { return nil }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    // MARK: - Tests

    @Test(.timeLimit(.minutes(5)), arguments: MultiServerBackend.all)
    func sixteenClientsOverTwoServersRunTheSeedWorkflow(backend: MultiServerBackend) async throws {
        try #require(backend.isAvailable, "\(backend.skipReason)")
        let pair = try Pair(backend)
        defer { pair.stopAll() }
        try pair.startServer()
        try pair.startServer()
        let outcomes = await withTaskGroup(of: Outcome.self) { group in
            for client in 0 ..< 16 {
                group.addTask { await Self.seedWorkflow(pair, client: client, start: client) }
            }
            var all: [Outcome] = []
            for await o in group { all.append(o) }
            return all
        }
        let failures = outcomes.compactMap(\.failure)
        #expect(failures.isEmpty, "\(failures.count) of 16 clients failed: \(failures.prefix(3))")
        // Same data, same request: every client's selection is the same (deterministic sampler).
        let masks = Set(outcomes.compactMap(\.bitmask))
        #expect(masks.count == 1, "selections differ between clients: \(masks)")
    }

    @Test(.timeLimit(.minutes(5)), arguments: MultiServerBackend.all)
    func killNineDuringAJobAndTheOtherServerFinishesIt(backend: MultiServerBackend) async throws {
        try #require(backend.isAvailable, "\(backend.skipReason)")
        let pair = try Pair(backend)
        defer { pair.stopAll() }
        let a = try pair.startServer(lease: 2)
        // Reference run on server A alone.
        let reference = await Self.seedWorkflow(pair, client: 0, samples: 40, dimension: 16, pick: 6, seed: 11)
        #expect(reference.failure == nil, "\(reference.failure ?? "")")

        // The same workflow up to the job, which A holds RUNNING (an injected delay) when it dies.
        var r = await pair.call(0, "PUT", "/_admin/faults", json: #"{"rules":[{"job":"SAMPLING","delayMs":60000}]}"#, admin: true)
        #expect(r.status == 200)
        let names = (0 ..< 40).map { "img_\($0).jpg" }
        r = await pair.call(0, "POST", "/v1/datasets", json: #"{"name":"takeover"}"#)
        let ds = try #require(Self.json(r.body)["id"] as? String)
        for name in names {
            #expect(await pair.call(0, "POST", "/v1/datasets/\(ds)/samples", json: #"{"fileName":"\#(name)","metaData":{}}"#).status == 201)
        }
        r = await pair.call(0, "POST", "/v1/datasets/\(ds)/tags/initial", json: #"{"imgType":"full"}"#)
        let initial = try #require(Self.json(r.body)["id"] as? String)
        r = await pair.call(0, "GET", "/v1/datasets/\(ds)/embeddings/writeCSVUrl?name=emb")
        let put = try #require(Self.json(r.body)["signedWriteUrl"] as? String)
        let eid = try #require(Self.json(r.body)["embeddingId"] as? String)
        #expect(await pair.call(0, "PUT", put, body: Data(Self.csv(names, d: 16, seed: 11).utf8)).status == 200)
        r = await pair.call(0, "POST", "/v1/datasets/\(ds)/embeddings/\(eid)/sampling",
                            json: #"{"newTagName":"picked","method":"CORESET","preselectedTagId":null,"queryTagId":"\#(initial)","config":{"stoppingCondition":{"nSamples":6}}}"#)
        let job = try #require(Self.json(r.body)["jobId"] as? String)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, Self.json(await pair.call(0, "GET", "/v1/jobs/\(job)").body)["status"] as? String != "RUNNING" {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(Self.json(await pair.call(0, "GET", "/v1/jobs/\(job)").body)["status"] as? String == "RUNNING")
        // B joins while A runs the job: it must not take the job while A's lease is live...
        try pair.startServer(lease: 2)
        try await Task.sleep(for: .milliseconds(500))
        #expect(Self.json(await pair.call(1, "GET", "/v1/jobs/\(job)").body)["status"] as? String == "RUNNING")
        // ...and must take it once A is gone and the lease ran out.
        a.kill9()
        let tag = await Self.waitForJob(pair, job, startingAt: 1, timeout: 90)
        let tagId = try #require(tag, "server B did not finish the job of the killed server A")
        r = await pair.call(1, "GET", "/v1/datasets/\(ds)/tags/\(tagId)")
        #expect(Self.json(r.body)["bitMaskData"] as? String == reference.bitmask)
    }

    @Test(.timeLimit(.minutes(3)), arguments: MultiServerBackend.all)
    func revokedTokenIsRefusedByBothServersWithinASecond(backend: MultiServerBackend) async throws {
        try #require(backend.isAvailable, "\(backend.skipReason)")
        let pair = try Pair(backend)
        defer { pair.stopAll() }
        try pair.startServer()
        try pair.startServer()
        let ci = try MultiServerBackend.createToken(name: "ci", store: pair.storeArguments)
        let created = await pair.call(0, "POST", "/v1/datasets?token=" + ci, json: #"{"name":"ci-data"}"#)
        let ds = try #require(Self.json(created.body)["id"] as? String, "\(created.status)")
        for i in 0 ..< 6 {   // both servers cache the authentication
            let r = await pair.call(i, "GET", "/v1/datasets/\(ds)?token=" + ci)
            #expect(r.status == 200, "\(String(decoding: r.body, as: UTF8.self))")
        }
        try MultiServerBackend.revokeToken(name: "ci", store: pair.storeArguments)
        try await Task.sleep(for: .seconds(1))
        for i in 0 ..< 4 {
            #expect(await pair.call(i, "GET", "/v1/datasets/\(ds)?token=" + ci).status == 401)
        }
        // The servers' first token is unaffected.
        #expect(await pair.call(0, "POST", "/v1/datasets", json: #"{"name":"still-in-0"}"#).status == 201)
        #expect(await pair.call(1, "POST", "/v1/datasets", json: #"{"name":"still-in-1"}"#).status == 201)
    }

    /// Clients of both servers add samples to one dataset at once: every sample is created
    /// (a conflict between the servers is retried, never answered 409 as a taken file name;
    /// the client retries a 503 "busy"), and the mapping holds each exactly once.
    @Test(.timeLimit(.minutes(3)), arguments: MultiServerBackend.all)
    func bothServersAddSamplesToOneDataset(backend: MultiServerBackend) async throws {
        try #require(backend.isAvailable, "\(backend.skipReason)")
        let pair = try Pair(backend)
        defer { pair.stopAll() }
        try pair.startServer()
        try pair.startServer()
        let ds = try #require(Self.json(await pair.call(0, "POST", "/v1/datasets", json: #"{"name":"together"}"#).body)["id"] as? String)
        let failures = await withTaskGroup(of: [String].self) { group in
            for client in 0 ..< 8 {
                group.addTask {
                    var bad: [String] = []
                    for i in 0 ..< 25 {
                        // 503 ("busy; retry") is an allowed answer when the servers' transactions
                        // keep conflicting: a client retries it, as this one does.
                        var r = (status: 0, body: Data())
                        for attempt in 0 ..< 10 {
                            r = await pair.call(client + attempt, "POST", "/v1/datasets/\(ds)/samples",
                                                json: #"{"fileName":"c\#(client)-\#(i).jpg","metaData":{}}"#)
                            if r.status != 503 { break }
                            try? await Task.sleep(for: .milliseconds(20 * (attempt + 1)))
                        }
                        if r.status != 201 { bad.append("\(r.status) \(String(decoding: r.body.prefix(200), as: UTF8.self))") }
                    }
                    return bad
                }
            }
            var all: [String] = []
            for await b in group { all += b }
            return all
        }
        #expect(failures.isEmpty, "\(failures.count) of 200 failed, e.g. \(failures.prefix(2))")
        let r = await pair.call(1, "GET", "/v1/datasets/\(ds)/mappings?field=fileName")
        let names = (try? JSONSerialization.jsonObject(with: r.body) as? [String]) ?? []
        #expect(names.count == 200 && Set(names).count == 200)
    }

    /// Server B caches an embedding's matrix; the CSV is uploaded again (same signed URL)
    /// through server A; B's next selection uses the new matrix.
    @Test(.timeLimit(.minutes(3)), arguments: MultiServerBackend.all)
    func reuploadThroughOneServerReachesTheOthersCache(backend: MultiServerBackend) async throws {
        try #require(backend.isAvailable, "\(backend.skipReason)")
        let pair = try Pair(backend)
        defer { pair.stopAll() }
        try pair.startServer()
        let names = (0 ..< 30).map { "img_\($0).jpg" }
        func dataset(_ name: String, csvSeed: UInt64) async throws -> (ds: String, initial: String, put: String, eid: String) {
            var r = await pair.call(0, "POST", "/v1/datasets", json: #"{"name":"\#(name)"}"#)
            let ds = try #require(Self.json(r.body)["id"] as? String)
            for n in names { _ = await pair.call(0, "POST", "/v1/datasets/\(ds)/samples", json: #"{"fileName":"\#(n)","metaData":{}}"#) }
            r = await pair.call(0, "POST", "/v1/datasets/\(ds)/tags/initial", json: #"{"imgType":"full"}"#)
            let initial = try #require(Self.json(r.body)["id"] as? String)
            r = await pair.call(0, "GET", "/v1/datasets/\(ds)/embeddings/writeCSVUrl?name=emb")
            let put = try #require(Self.json(r.body)["signedWriteUrl"] as? String)
            let eid = try #require(Self.json(r.body)["embeddingId"] as? String)
            #expect(await pair.call(0, "PUT", put, body: Data(Self.csv(names, d: 4, seed: csvSeed).utf8)).status == 200)
            return (ds, initial, put, eid)
        }
        func select(_ d: (ds: String, initial: String, put: String, eid: String), _ tagName: String, via server: Int) async throws -> String? {
            let r = await pair.call(server, "POST", "/v1/datasets/\(d.ds)/embeddings/\(d.eid)/sampling",
                                    json: #"{"newTagName":"\#(tagName)","method":"CORESET","preselectedTagId":null,"queryTagId":"\#(d.initial)","config":{"stoppingCondition":{"nSamples":5}}}"#)
            let job = try #require(Self.json(r.body)["jobId"] as? String)
            guard let tag = await Self.waitForJob(pair, job, startingAt: server) else { return nil }
            return Self.json(await pair.call(server, "GET", "/v1/datasets/\(d.ds)/tags/\(tag)").body)["bitMaskData"] as? String
        }
        let reference = try await dataset("reference", csvSeed: 2)
        let target = try await dataset("target", csvSeed: 1)
        let expectedNew = try await select(reference, "ref", via: 0)
        // Only server B runs jobs from now on: A stops, B starts (A's cache is gone with it).
        pair.servers[0].stop()
        pair.servers.removeFirst()
        try pair.startServer()
        let before = try await select(target, "first", via: 0)       // B caches the old matrix
        #expect(before != nil && before != expectedNew)
        // A comes back and takes the second upload of the CSV (same signed URL, new values).
        try pair.startServer()
        #expect(await pair.call(1, "PUT", target.put, body: Data(Self.csv(names, d: 4, seed: 2).utf8)).status == 200)
        // B must not use its cached copy.
        pair.servers[1].stop()
        pair.servers.removeLast()
        let after = try await select(target, "second", via: 0)
        #expect(after == expectedNew)
    }

    /// The group-commit crash test on PostgreSQL: `kill -9` of the server while 16 clients
    /// create samples; every sample answered 201 is in the database after the restart, the
    /// mapping indices stay dense and `n_samples` matches.
    @Test(.timeLimit(.minutes(4)), .enabled(if: PostgresTestServer.isAvailable, PostgresTestServer.skipReason))
    func killNineOnPostgresLosesNothingAcknowledged() async throws {
        let pair = try Pair(.postgres)
        defer { pair.stopAll() }
        let url = try #require(pair.databaseURL)
        let server = try pair.startServer()
        let ds = try #require(Self.json(await pair.call(0, "POST", "/v1/datasets", json: #"{"name":"concurrent"}"#).body)["id"] as? String)
        let ack = GroupCommitCrashTests.Acknowledged()
        var rng = SeededRandom(seed: 0x7067_6372_6173_68)
        var cut = 0
        for round in 0 ..< 3 {
            let delayMs = rng.int(0 ..< 350)
            let failed = GroupCommitCrashTests.Acknowledged()
            try await GroupCommitCrashTests.writeUntilKilled(
                round: round, datasetId: ds, ack: ack, failed: failed, delayMs: delayMs,
                post: { path, json in await pair.call(0, "POST", path, json: json, timeout: 10).status },
                kill: { server.kill9() })
            cut += failed.all.count
            try server.start(extraArguments: ["--job-poll-wait", "0", "--database", url])

            let pg = try PostgresConnection(url: url)
            let stored = Set(try pg.query("SELECT file_name FROM samples WHERE dataset_id = ?", ds).map { try $0.string(0) })
            let indices = try pg.query("SELECT idx FROM samples WHERE dataset_id = ? ORDER BY idx", ds).map { try $0.int(0) }
            let nSamples = try pg.queryOne("SELECT n_samples FROM datasets WHERE id = ?", ds)?.int(0) ?? -1
            pg.close()
            let lost = ack.all.filter { !stored.contains($0) }
            #expect(lost.isEmpty, "round \(round): \(lost.count) acknowledged samples lost, e.g. \(lost.prefix(3))")
            #expect(indices == Array(0 ..< indices.count), "round \(round): mapping indices not dense")
            #expect(nSamples == indices.count)
        }
        print("PostgreSQL crash test: 3 kills, \(ack.all.count) samples acknowledged, \(cut) requests cut")
        #expect(ack.all.count > 100)
        #expect(cut > 0)
    }
}

/// The store two servers share in ``MultiServerTests``.
enum MultiServerBackend: String, CustomStringConvertible, CaseIterable, Sendable {
    /// The data folder's SQLite file, opened by both processes.
    case sqliteFolder
    /// A PostgreSQL database (`serve --database`) on the tests' own PostgreSQL server; blobs
    /// stay in the shared data folder.
    case postgres

    static var all: [MultiServerBackend] { allCases }
    var description: String { rawValue }
    var isAvailable: Bool { self == .sqliteFolder || PostgresTestServer.isAvailable }
    var skipReason: String { self == .postgres ? "\(PostgresTestServer.skipReason)" : "" }

    /// Creates a token named `name` in the store; returns the plaintext.
    static func createToken(name: String, store: [String]) throws -> String {
        let cli = try LiveServer.binary("lightly-server")
        let (status, out) = runCommand(cli, ["token", "create", "--name", name] + store)
        guard status == 0, let token = out.split(separator: "\n").first(where: { $0.hasPrefix("lt_") }) else {
            throw MultiServerError("token create failed: \(out)")
        }
        return String(token)
    }

    /// Revokes the token `name` in the store.
    static func revokeToken(name: String, store: [String]) throws {
        let cli = try LiveServer.binary("lightly-server")
        let (status, out) = runCommand(cli, ["token", "revoke", name] + store)
        guard status == 0 else { throw MultiServerError("token revoke failed: \(out)") }
    }
}

struct MultiServerError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
