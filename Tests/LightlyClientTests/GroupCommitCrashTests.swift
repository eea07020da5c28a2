import Foundation
import LightlyStorage
import Testing

/// `kill -9` while 16 clients create samples concurrently, so that writes share group
/// commits when the process dies: every sample whose POST was answered 201 must be on disk
/// after the restart, the mapping indices stay dense, and the database is sound.
@Suite(.serialized) struct GroupCommitCrashTests {
    /// Names answered 201, collected from concurrent tasks.
    final class Acknowledged: @unchecked Sendable {
        // @unchecked: every access holds `lock`.
        private let lock = NSLock()
        private var names: [String] = []
        func add(_ name: String) { lock.lock(); names.append(name); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return names }
    }

    /// One round of the crash tests: 16 clients create samples in `datasetId` through `post`
    /// (path, JSON body → status) until their first failure; once the round has acknowledged 30
    /// writes (a loaded machine can take far longer than any fixed delay to get there), and
    /// `delayMs` later, `kill` ends the server. Names answered 201 go to `ack`, the request each
    /// client had in flight when the server died to `failed`. Returns when every client stopped.
    static func writeUntilKilled(round: Int, datasetId: String, ack: Acknowledged, failed: Acknowledged, delayMs: Int,
                                 post: @escaping @Sendable (String, String) async -> Int,
                                 kill: () -> Void) async throws {
        let ackedBefore = ack.all.count
        let clients = Task {
            await withTaskGroup(of: Void.self) { group in
                for client in 0 ..< 16 {
                    group.addTask {
                        for i in 0 ..< 100_000 {
                            let name = "r\(round)-c\(client)-\(i).jpg"
                            let status = await post("/v1/datasets/\(datasetId)/samples",
                                                    #"{"fileName":"\#(name)","metaData":{"sizeInBytes":1}}"#)
                            if status == 201 { ack.add(name) } else { failed.add(name); return }
                        }
                    }
                }
            }
        }
        let waitUntil = ContinuousClock.now + .seconds(60)
        while ack.all.count < ackedBefore + 30, ContinuousClock.now < waitUntil {
            try await Task.sleep(for: .milliseconds(10))
        }
        try await Task.sleep(for: .milliseconds(delayMs))
        kill()
        await clients.value
    }

    @Test(.timeLimit(.minutes(3)))
    func killNineDuringConcurrentSampleCreationLosesNothingAcknowledged() async throws {
        let dir = NSTemporaryDirectory() + "lightly-groupcrash-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = ServerProcess(dataDir: dir)
        try server.start()
        defer { server.stop() }
        let ds = try #require(ServerProcess.id(await server.call("POST", "/v1/datasets", json: #"{"name":"concurrent"}"#).body))
        let ack = Acknowledged()
        var rng = SeededRandom(seed: 0x6772_6F75_70)
        var cut = 0   // requests that were in flight when the process died
        for round in 0 ..< 4 {
            let delayMs = rng.int(0 ..< 350)
            let failed = Acknowledged()
            try await Self.writeUntilKilled(round: round, datasetId: ds, ack: ack, failed: failed, delayMs: delayMs,
                                            post: { path, json in await server.call("POST", path, json: json, timeout: 10).status },
                                            kill: { server.kill9() })
            cut += failed.all.count
            try server.start()

            #expect(try server.integrityCheck() == "ok")
            let db = try Database(path: dir + "/lightly.sqlite3", readerCount: 1)
            let (stored, indices, nSamples) = try db.read { conn in
                (Set(try conn.query("SELECT file_name FROM samples WHERE dataset_id = ?", ds).map { try $0.string(0) }),
                 try conn.query("SELECT idx FROM samples WHERE dataset_id = ? ORDER BY idx", ds).map { try $0.int(0) },
                 try conn.queryOne("SELECT n_samples FROM datasets WHERE id = ?", ds)?.int(0) ?? -1)
            }
            db.close()
            let acknowledged = ack.all
            let lost = acknowledged.filter { !stored.contains($0) }
            #expect(lost.isEmpty, "round \(round): \(lost.count) acknowledged samples lost, e.g. \(lost.prefix(3))")
            #expect(indices == Array(0 ..< indices.count), "round \(round): mapping indices not dense")
            #expect(nSamples == indices.count)
        }
        print("group-commit crash test: 4 kills, \(ack.all.count) samples acknowledged, \(cut) requests cut")
        // The kills must land while writes were in flight and after some were acknowledged.
        #expect(ack.all.count > 100)
        #expect(cut > 0)
    }
}
