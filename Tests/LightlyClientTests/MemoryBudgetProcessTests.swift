import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// The memory budget in a real `lightly-server serve` process: an embedding upload above
/// `--memory-budget` answers 413 with the JSON error body; after a restart with a budget
/// smaller than a stored matrix, a sampling job on it fails with a message instead of loading
/// it, and what was stored before is still there.
@Suite(.serialized) struct MemoryBudgetProcessTests {
    static func csv(_ n: Int, d: Int) -> String {
        let columns: [String] = (0 ..< d).map { "embedding_\($0)" }
        var out = "filenames," + columns.joined(separator: ",") + ",labels\n"
        for i in 0 ..< n {
            let values: [String] = (0 ..< d).map { j in String(Double((i * 7 + j * 3) % 23) / 4) }
            out += "img_\(i).png," + values.joined(separator: ",") + ",0\n"
        }
        return out
    }

    @Test(.timeLimit(.minutes(2)))
    func uploadAboveTheBudgetIs413AndAJobAboveItFails() async throws {
        let dir = NSTemporaryDirectory() + "lightly-budget-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = ServerProcess(dataDir: dir)
        let n = 64, d = 8   // 2048 B as float32
        try server.start(extraArguments: ["--job-poll-wait", "0", "--memory-budget", "4KiB"])
        let ds = try #require(ServerProcess.id(await server.call("POST", "/v1/datasets", json: #"{"name":"budget"}"#).body))
        func upload(_ name: String, _ body: String) async -> (status: Int, body: Data, embedding: String?) {
            let w = await server.call("GET", "/v1/datasets/\(ds)/embeddings/writeCSVUrl?name=\(name)")
            guard w.status == 200, let o = try? JSONSerialization.jsonObject(with: w.body) as? [String: Any],
                  let put = o["signedWriteUrl"] as? String, let eid = o["embeddingId"] as? String else { return (w.status, w.body, nil) }
            let r = await server.call("PUT", put, body: Data(body.utf8))
            return (r.status, r.body, eid)
        }
        // Fits 4 KiB: stored (and creates the 64 samples).
        let first = await upload("fits", Self.csv(n, d: d))
        #expect(first.status == 200, "\(String(decoding: first.body, as: UTF8.self))")
        let embedding = try #require(first.embedding)
        server.stop()

        // Restart with 1 KiB: a new upload of the same 2 KiB matrix is refused with 413 …
        try server.start(extraArguments: ["--job-poll-wait", "0", "--memory-budget", "1KiB"])
        defer { server.stop() }
        let refused = await upload("too-big", Self.csv(n, d: d))
        #expect(refused.status == 413)
        #expect(ServerProcess.errorCode(refused.body) == "EMBEDDING_TOO_LARGE", "\(String(decoding: refused.body, as: UTF8.self))")
        let message = (try? JSONSerialization.jsonObject(with: refused.body) as? [String: Any])?["message"] as? String ?? ""
        #expect(message.contains("memory budget"), "\(message)")
        // … and a job on the stored 2 KiB matrix fails with a message; the process keeps serving.
        let job = await server.call("POST", "/v1/datasets/\(ds)/embeddings/\(embedding)/sampling",
                                    json: #"{"newTagName":"c","method":"CORESET","config":{"stoppingCondition":{"nSamples":3}}}"#)
        #expect(job.status == 200)
        let jobId = try #require((try? JSONSerialization.jsonObject(with: job.body) as? [String: Any])?["jobId"] as? String)
        var status: [String: Any] = [:]
        for _ in 0 ..< 400 {
            let s = await server.call("GET", "/v1/jobs/\(jobId)")
            status = (try? JSONSerialization.jsonObject(with: s.body) as? [String: Any]) ?? [:]
            if let st = status["status"] as? String, st == "FINISHED" || st == "FAILED" { break }
            usleep(50_000)
        }
        #expect(status["status"] as? String == "FAILED")
        #expect((status["error"] as? String ?? "").contains("memory budget"), "\(status)")
        // Nothing stored before was lost: the first embedding is still processed, its CSV readable.
        let list = await server.call("GET", "/v1/datasets/\(ds)/embeddings")
        let rows = (try? JSONSerialization.jsonObject(with: list.body) as? [[String: Any]]) ?? []
        #expect(rows.first { $0["id"] as? String == embedding }?["isProcessed"] as? Bool == true)
        let read = await server.call("GET", "/v1/datasets/\(ds)/embeddings/\(embedding)/readCSVUrl")
        let url = try #require(try? JSONDecoder().decode(String.self, from: read.body))
        let csv = await server.call("GET", url)
        #expect(csv.status == 200 && String(decoding: csv.body, as: UTF8.self).hasPrefix("filenames,embedding_0"))
        #expect(await server.call("GET", "/health").status == 200)
    }
}
