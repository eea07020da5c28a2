import Foundation
import Testing

/// SplitMix64: a fixed seed gives the same kill points on every run.
struct SeededRandom {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func int(_ range: Range<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }
}

/// The crash matrix: 24 `kill -9`s at seeded random moments during uploads, embedding
/// ingests, sampling jobs and tag writes, each followed by a restart on the same data folder.
/// After every restart: `PRAGMA integrity_check` is ok, every acknowledged write is there,
/// every interrupted job finishes, and no debris is left (spilled bodies, scratch files, blob
/// files without a row).
@Suite(.serialized) struct CrashMatrixTests {
    static let seed: UInt64 = 0x11_6874_6C79   // fixed: the same kill points on every run
    static let rounds = 24
    static let rows = 2000
    static let dim = 16

    static func name(_ i: Int) -> String { "e\(i).jpg" }

    /// A CSV of all `rows` samples; `shuffle` reorders its rows (the server re-emits it in
    /// mapping order through a scratch file).
    static func csv(seed: Int, shuffle: Bool) -> Data {
        var order = Array(0 ..< rows)
        if shuffle { order.reverse() }
        var s = "filenames," + (0 ..< dim).map { "embedding_\($0)" }.joined(separator: ",") + ",labels\n"
        for i in order {
            s += name(i)
            for j in 0 ..< dim { s += "," + String(Double((i &* 7919 &+ j &* 104_729 &+ seed) % 1000) / 100) }
            s += ",0\n"
        }
        return Data(s.utf8)
    }

    static func json(_ d: Data) -> Any? { try? JSONSerialization.jsonObject(with: d) }

    /// What the server acknowledged (a 2xx reached the client): all of it must survive.
    final class Acknowledged: @unchecked Sendable {
        // @unchecked: filled by one operation task at a time, read after it ended.
        var images: [(sample: String, data: Data)] = []
        var embeddings: [String] = []
        var jobs: [(id: String, tag: String)] = []
        var tags: [String: String] = [:]          // name → bitMaskData
        /// Rounds whose operation ran to its end before the kill.
        var completedRounds = 0
    }

    @Test(.timeLimit(.minutes(4)))
    func killNineAtRandomPointsLosesNothingAcknowledged() async throws {
        let dir = NSTemporaryDirectory() + "lightly-crash-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = ServerProcess(dataDir: dir)
        let args = ["--job-poll-wait", "0", "--body-file-threshold", "16384"]
        try server.start(extraArguments: args)
        defer { server.stop() }

        // Setup, acknowledged before any crash: a dataset for images, and one whose 2000
        // samples and initial tag come from its first embedding CSV.
        let images = try #require(ServerProcess.id(await server.call("POST", "/v1/datasets", json: #"{"name":"images"}"#).body))
        let emb = try #require(ServerProcess.id(await server.call("POST", "/v1/datasets", json: #"{"name":"embeddings"}"#).body))
        func writeURL(_ name: String) async -> (url: String, id: String)? {
            let w = await server.call("GET", "/v1/datasets/\(emb)/embeddings/writeCSVUrl?name=\(name)")
            guard let o = Self.json(w.body) as? [String: Any], let u = o["signedWriteUrl"] as? String,
                  let id = o["embeddingId"] as? String else { return nil }
            return (u, id)
        }
        let first = try #require(await writeURL("base"))
        #expect(await server.call("PUT", first.url, body: Self.csv(seed: 0, shuffle: false)).status == 200)
        let tags0 = Self.json(await server.call("GET", "/v1/datasets/\(emb)/tags").body) as? [[String: Any]] ?? []
        let initial = try #require(tags0.first?["id"] as? String)

        let ack = Acknowledged()
        ack.embeddings.append(first.id)
        var rng = SeededRandom(seed: Self.seed)
        var kinds: [String: Int] = [:]

        for round in 0 ..< Self.rounds {
            let kind = ["upload", "ingest", "job", "tags"][round % 4]
            kinds[kind, default: 0] += 1
            // Wide enough that some operations finish (acknowledged) and most are cut.
            let delayMs = rng.int(0 ..< (kind == "upload" || kind == "ingest" ? 450 : 120))
            let size = rng.int(16 << 10 ..< 2 << 20)
            let bits = (0 ..< 8).map { _ in String(rng.next() >> 1, radix: 16) }.joined()
            let op = Task { [server] in
                switch kind {
                case "upload":
                    // A small image (usually acknowledged before the kill), then a large one
                    // (usually cut), each on a new sample.
                    for (part, n) in [(0, min(size, 48 << 10)), (1, size)] {
                        guard let sid = ServerProcess.id(await server.call("POST", "/v1/datasets/\(images)/samples",
                                                                           json: #"{"fileName":"r\#(round)-\#(part).png","metaData":{}}"#).body) else { return }
                        let w = await server.call("GET", "/v1/datasets/\(images)/samples/\(sid)/writeurl")
                        guard let url = try? JSONDecoder().decode(String.self, from: w.body) else { return }
                        let data = Data((0 ..< n).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ round &+ part) })
                        guard await server.call("PUT", url, body: data).status == 200 else { return }
                        ack.images.append((sid, data))
                    }
                    ack.completedRounds += 1
                case "ingest":
                    guard let w = await writeURL("r\(round)") else { return }
                    if await server.call("PUT", w.url, body: Self.csv(seed: round, shuffle: round % 8 == 1)).status == 200 {
                        ack.embeddings.append(w.id)
                        ack.completedRounds += 1
                    }
                case "job":
                    let body = #"{"newTagName":"job-\#(round)","method":"CORESET","config":{"stoppingCondition":{"nSamples":300}}}"#
                    let r = await server.call("POST", "/v1/datasets/\(emb)/embeddings/\(first.id)/sampling", json: body)
                    if r.status == 200, let o = Self.json(r.body) as? [String: Any], let id = o["jobId"] as? String {
                        ack.jobs.append((id, "job-\(round)"))
                        ack.completedRounds += 1
                    }
                default:
                    for k in 0 ..< 80 {
                        let name = "tag-\(round)-\(k)"
                        let mask = "0x" + bits + String(k, radix: 16)
                        let r = await server.call("POST", "/v1/datasets/\(emb)/tags",
                                                  json: #"{"name":"\#(name)","prevTagId":"\#(initial)","bitMaskData":"\#(mask)","totSize":\#(Self.rows)}"#)
                        if r.status == 201 { ack.tags[name] = mask } else { return }
                    }
                    ack.completedRounds += 1
                }
            }
            try await Task.sleep(for: .milliseconds(delayMs))
            server.kill9()
            await op.value
            try server.start(extraArguments: args)
            try await checkEverything(server, ack: ack, images: images, emb: emb, round: round, kind: kind)
        }
        #expect(kinds.values.allSatisfy { $0 >= 4 })
        // The kills must land inside operations, or the matrix tests nothing.
        print("crash matrix: \(Self.rounds) kills, \(Self.rounds - ack.completedRounds) inside an operation; acknowledged: \(ack.images.count) images, \(ack.embeddings.count) embeddings, \(ack.jobs.count) jobs, \(ack.tags.count) tags")
        #expect(Self.rounds - ack.completedRounds >= 6, "only \(Self.rounds - ack.completedRounds) kills interrupted an operation")
    }

    /// The invariants after a restart.
    func checkEverything(_ server: ServerProcess, ack: Acknowledged, images: String, emb: String,
                         round: Int, kind: String) async throws {
        let at = "round \(round) (\(kind))"
        #expect(try server.integrityCheck() == "ok", "\(at)")
        // Every job, interrupted or not, ends; acknowledged ones finish and made their tag.
        let deadline = Date().addingTimeInterval(60)
        var open: [String] = []
        repeat {
            let list = Self.json(await server.call("GET", "/v1/jobs").body) as? [[String: Any]] ?? []
            open = list.filter { ["WAITING", "RUNNING"].contains($0["status"] as? String ?? "") }.compactMap { $0["id"] as? String }
            if open.isEmpty { break }
            try await Task.sleep(for: .milliseconds(50))
        } while Date() < deadline
        #expect(open.isEmpty, "\(at): jobs never finished after the restart: \(open)")
        for job in ack.jobs {
            let s = Self.json(await server.call("GET", "/v1/jobs/\(job.id)").body) as? [String: Any] ?? [:]
            #expect(s["status"] as? String == "FINISHED", "\(at): acknowledged job \(job.id): \(s)")
        }
        let tags = Self.json(await server.call("GET", "/v1/datasets/\(emb)/tags").body) as? [[String: Any]] ?? []
        var byName: [String: String] = [:]
        for t in tags { if let n = t["name"] as? String { byName[n] = t["bitMaskData"] as? String ?? "" } }
        for job in ack.jobs { #expect(byName[job.tag] != nil, "\(at): tag of acknowledged job \(job.tag) missing") }
        func normal(_ hex: String) -> String {
            let h = hex.lowercased().hasPrefix("0x") ? String(hex.dropFirst(2)) : hex.lowercased()
            let t = h.drop { $0 == "0" }
            return t.isEmpty ? "0" : String(t)
        }
        for (name, mask) in ack.tags {
            #expect(byName[name].map(normal) == normal(mask), "\(at): acknowledged tag \(name) missing or changed")
        }
        let embeddings = Self.json(await server.call("GET", "/v1/datasets/\(emb)/embeddings").body) as? [[String: Any]] ?? []
        let processed = Set(embeddings.filter { $0["isProcessed"] as? Bool == true }.compactMap { $0["id"] as? String })
        for id in ack.embeddings { #expect(processed.contains(id), "\(at): acknowledged embedding \(id) not processed") }
        for image in ack.images {
            let r = await server.call("GET", "/v1/datasets/\(images)/samples/\(image.sample)/readurl?type=full")
            guard let u = try? JSONDecoder().decode(String.self, from: r.body) else {
                Issue.record("\(at): acknowledged image of \(image.sample) has no read URL (\(r.status))")
                continue
            }
            let got = await server.call("GET", u)
            #expect(got.status == 200 && got.body == image.data, "\(at): acknowledged image of \(image.sample) differs")
        }
        // No debris: spilled bodies and scratch files in tmp/, blob files without a row.
        let debris = try server.debris()
        // The start-up sweep removes a crash's leftovers (temp bodies, ingest scratch, blobs
        // without a row) when no other server holds the data folder.
        #expect(debris.isEmpty, "\(at): debris after restart: \(debris)")
    }
}
