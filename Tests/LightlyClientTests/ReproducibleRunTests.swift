import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `serve --deterministic-ids SEED --clock …` (docs/admin.md): two real server processes
/// that get the same requests in the same order store the same state, byte for byte, as
/// `GET /_admin/snapshot` shows. Real processes because the id source and the clock are
/// process-wide.
@Suite(.serialized) struct ReproducibleRunTests {
    static let admin = "admin-token-for-tests"

    /// A server process plus requests with the admin token or a user token.
    struct Run {
        let server: ServerProcess
        let dir: String

        static func start(_ extra: [String]) throws -> Run {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("repro-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let s = ServerProcess(dataDir: dir)
            try s.start(extraArguments: ["--job-poll-wait", "0", "--admin-token", ReproducibleRunTests.admin] + extra)
            return Run(server: s, dir: dir)
        }

        func stop() {
            server.stop()
            try? FileManager.default.removeItem(atPath: dir)
        }

        func call(_ method: String, _ path: String, token: String? = nil, admin: Bool = false,
                  body: Data? = nil) async throws -> (Int, Data) {
            var target = path.hasPrefix("http") ? path : server.url + path
            if let token { target += (target.contains("?") ? "&" : "?") + "token=" + token }
            var r = URLRequest(url: try #require(URL(string: target)), timeoutInterval: 30)
            r.httpMethod = method
            if admin { r.setValue("Bearer \(ReproducibleRunTests.admin)", forHTTPHeaderField: "Authorization") }
            if let body { r.httpBody = body; r.setValue("application/json", forHTTPHeaderField: "Content-Type") }
            let (data, resp) = try await URLSession.shared.data(for: r)
            return ((resp as? HTTPURLResponse)?.statusCode ?? 0, data)
        }

        func json(_ data: Data) -> [String: Any] { (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:] }
    }

    /// A client session: users from a seed, a dataset with samples, an embedding upload, a
    /// sampling job polled to the end, scores and a tag. Returns the final snapshot.
    static func script(_ run: Run) async throws -> Data {
        #expect(try await run.call("POST", "/_admin/reset?users=true", admin: true).0 == 200)
        let seed = #"{"users": [{"name": "alice", "tokens": [{"token": "lt_alice-reproducible"}]}]}"#
        #expect(try await run.call("POST", "/_admin/seed", admin: true, body: Data(seed.utf8)).0 == 201)
        let tok = "lt_alice-reproducible"
        let (s1, created) = try await run.call("POST", "/v1/datasets", token: tok, body: Data(#"{"name": "repro"}"#.utf8))
        #expect(s1 == 201)
        let ds = try #require(run.json(created)["id"] as? String)
        let n = 12
        for i in 0 ..< n {
            let body = #"{"fileName": "img_\#(i).jpg", "metaData": {"sizeInBytes": \#(100 + i)}}"#
            #expect(try await run.call("POST", "/v1/datasets/\(ds)/samples", token: tok, body: Data(body.utf8)).0 == 201)
        }
        let (s2, tag) = try await run.call("POST", "/v1/datasets/\(ds)/tags/initial", token: tok,
                                           body: Data(#"{"imgType": "meta", "creator": "USER_PIP"}"#.utf8))
        #expect(s2 == 201)
        let initial = try #require(run.json(tag)["id"] as? String)
        let (_, w) = try await run.call("GET", "/v1/datasets/\(ds)/embeddings/writeCSVUrl?name=emb", token: tok)
        let write = run.json(w)
        let eid = try #require(write["embeddingId"] as? String)
        var csv = "filenames,embedding_0,embedding_1,labels\n"
        for i in 0 ..< n { csv += "img_\(i).jpg,\(Double(i) * 0.5),\(Double(i % 3)),0\n" }
        #expect(try await run.call("PUT", try #require(write["signedWriteUrl"] as? String), body: Data(csv.utf8)).0 == 200)
        let scores = (0 ..< n).map { "0.\($0)" }.joined(separator: ",")
        #expect(try await run.call("POST", "/v1/datasets/\(ds)/tags/\(initial)/scores", token: tok,
                                   body: Data(#"{"scoreType": "uncertainty_margin", "scores": [\#(scores)]}"#.utf8)).0 / 100 == 2)
        let (s3, job) = try await run.call("POST", "/v1/datasets/\(ds)/embeddings/\(eid)/sampling", token: tok, body: Data(
            #"{"newTagName": "picked", "method": "CORAL", "config": {"stoppingCondition": {"nSamples": 4}}}"#.utf8))
        #expect(s3 == 200)
        let jobId = try #require(run.json(job)["jobId"] as? String)
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let (_, st) = try await run.call("GET", "/v1/jobs/\(jobId)", token: tok)
            if let status = run.json(st)["status"] as? String, status == "FINISHED" || status == "FAILED" {
                #expect(status == "FINISHED")
                break
            }
            try await Task.sleep(nanoseconds: 5_000_000)
        }
        let (s4, snap) = try await run.call("GET", "/_admin/snapshot", admin: true)
        #expect(s4 == 200)
        return snap
    }

    @Test(.timeLimit(.minutes(3)))
    func sameScriptSameSnapshotAcrossRuns() async throws {
        let flags = ["--deterministic-ids", "42", "--clock", "fixed:1700000000000"]
        let a = try Run.start(flags)
        let first = try await Self.script(a)
        a.stop()
        let b = try Run.start(flags)
        let second = try await Self.script(b)
        b.stop()
        let text = String(decoding: first, as: UTF8.self)
        #expect(first == second, "snapshots differ:\n\(text)\n---\n\(String(decoding: second, as: UTF8.self))")
        #expect(text.contains(#""createdAt":1700000000000"#))
        #expect(text.contains(#""name":"picked""#))
        // Ids carry the fixed clock's second (0x6553f100) and come from the seeded generator.
        #expect(text.contains(#""id":"6553f100"#))

        // Another seed gives other ids; without the flags, ids and times are the system's.
        let c = try Run.start(["--deterministic-ids", "43", "--clock", "fixed:1700000000000"])
        let third = try await Self.script(c)
        c.stop()
        #expect(third != first)
        let d = try Run.start([])
        let fourth = String(decoding: try await Self.script(d), as: UTF8.self)
        d.stop()
        #expect(!fourth.contains("1700000000000"))
    }

    @Test(.timeLimit(.minutes(2)))
    func steppingClockAdvancesPerRead() async throws {
        let run = try Run.start(["--clock", "step:1000000:10", "--deterministic-ids", "7"])
        defer { run.stop() }
        #expect(try await run.call("POST", "/_admin/seed", admin: true,
                                   body: Data(#"{"users": [{"name": "bob", "tokens": [{"token": "lt_bob-reproducible"}]}]}"#.utf8)).0 == 201)
        var created: [Int] = []
        for name in ["one", "two", "three"] {
            let (s, d) = try await run.call("POST", "/v1/datasets", token: "lt_bob-reproducible", body: Data(#"{"name": "\#(name)"}"#.utf8))
            #expect(s == 201)
            let id = try #require(run.json(d)["id"] as? String)
            let (_, got) = try await run.call("GET", "/v1/datasets/\(id)", token: "lt_bob-reproducible")
            created.append(try #require(run.json(got)["createdAt"] as? Int))
        }
        #expect(created.allSatisfy { $0 >= 1_000_000 && $0 < 1_100_000 && ($0 - 1_000_000) % 10 == 0 }, "\(created)")
        #expect(created == created.sorted() && Set(created).count == 3)
    }

    @Test func badFlagsAreRejected() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("repro-bad-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (extra, option) in [(["--clock", "fixed:soon"], "--clock"), (["--clock", "step:1"], "--clock"),
                                (["--deterministic-ids", "-3"], "--deterministic-ids")] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: try LiveServer.binary("lightly-server"))
            p.arguments = ["serve", "--port", "0", "--data-dir", dir] + extra
            p.standardOutput = FileHandle.nullDevice
            let err = Pipe()
            p.standardError = err
            try p.run()
            let deadline = Date().addingTimeInterval(10)
            while p.isRunning, Date() < deadline { usleep(10_000) }
            if p.isRunning { p.terminate(); Issue.record("serve started with \(extra)") }
            p.waitUntilExit()
            let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(p.terminationStatus != 0, "\(extra)")
            #expect(message.contains(option), "\(message)")
        }
    }
}
