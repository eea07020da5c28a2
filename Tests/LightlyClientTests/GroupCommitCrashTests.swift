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
            let ackedBefore = ack.all.count
            let failed = Acknowledged()
            let clients = Task { [server] in
                await withTaskGroup(of: Void.self) { group in
                    for client in 0 ..< 16 {
                        group.addTask {
                            for i in 0 ..< 100_000 {
                                let name = "r\(round)-c\(client)-\(i).jpg"
                                let r = await server.call("POST", "/v1/datasets/\(ds)/samples",
                                                          json: #"{"fileName":"\#(name)","metaData":{"sizeInBytes":1}}"#, timeout: 10)
                                if r.status == 201 { ack.add(name) } else { failed.add(name); return }
                            }
                        }
                    }
                }
            }
            // Kill only once this round has acknowledged some writes (a loaded machine can take
            // far longer than any fixed delay to get there), then after a seeded extra delay.
            let waitUntil = ContinuousClock.now + .seconds(60)
            while ack.all.count < ackedBefore + 30, ContinuousClock.now < waitUntil {
                try await Task.sleep(for: .milliseconds(10))
            }
            try await Task.sleep(for: .milliseconds(delayMs))
            server.kill9()
            await clients.value
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
