import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// Whether this machine lets the test mount a size-limited tmpfs (root, `mount` present and
/// allowed: true here and in CI). Tried once with a real mount.
enum SmallFileSystem {
    static let problem: String? = {
        guard getuid() == 0 else { return "not root: cannot mount a tmpfs" }
        let dir = NSTemporaryDirectory() + "lightly-mount-probe-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (rc, out) = runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir])
        guard rc == 0 else { return "mount -t tmpfs failed: \(out.trimmingCharacters(in: .whitespacesAndNewlines))" }
        runCommand("/bin/umount", [dir])
        return nil
    }()

    /// Mounts a tmpfs of `megabytes` on a new directory; returns the directory.
    static func mount(megabytes: Int) throws -> String {
        let dir = NSTemporaryDirectory() + "lightly-diskfull-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let (rc, out) = runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m,mode=0700", "tmpfs", dir])
        guard rc == 0 else { throw LiveServerError("mount failed: \(out)") }
        return dir
    }

    static func unmount(_ dir: String) {
        runCommand("/bin/umount", ["-l", dir])
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Writes `path` until the file system says ENOSPC. Returns the bytes written.
    static func fill(_ path: String) -> Int {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var total = 0
        for chunk in [1 << 20, 4096, 512] {
            let buf = [UInt8](repeating: 0x5a, count: chunk)
            while true {
                let n = buf.withUnsafeBytes { write(fd, $0.baseAddress, chunk) }
                if n <= 0 { break }
                total += n
            }
        }
        fsync(fd)
        return total
    }
}

/// A full disk answers 507 with the JSON error body, changes nothing, and the server keeps
/// serving reads; once space is back, writes work again. Real process, real (small) file system.
@Suite(.serialized) struct DiskFullTests {
    static let threshold = 16 * 1024

    /// A random image-like payload.
    static func payload(_ n: Int, seed: UInt8) -> Data { Data((0 ..< n).map { UInt8(truncatingIfNeeded: $0 &* 31) ^ seed }) }

    static func csv(_ names: [String], seed: Int) -> String {
        "filenames,embedding_0,embedding_1,embedding_2,labels\n" + names.enumerated().map { i, n in
            "\(n),\(Double((i * 7 + seed) % 11)),\(Double((i * 3 + seed) % 5)),\(Double(i % 4)),0"
        }.joined(separator: "\n") + "\n"
    }

    /// Every answer is a success or 507 INSUFFICIENT_STORAGE with the JSON body; records the 507s.
    static func expectOKOr507(_ r: (status: Int, body: Data), _ what: String, ok: Set<Int> = [200, 201],
                              seen507: inout Int) {
        if r.status == 507 {
            seen507 += 1
            #expect(ServerProcess.errorCode(r.body) == "INSUFFICIENT_STORAGE", "\(what): \(String(decoding: r.body, as: UTF8.self))")
        } else {
            #expect(ok.contains(r.status), "\(what): \(r.status) \(String(decoding: r.body, as: UTF8.self))")
        }
    }

    @Test(.enabled(if: SmallFileSystem.problem == nil, "\(SmallFileSystem.problem ?? "")"), .timeLimit(.minutes(3)))
    func fullTmpfsAnswers507AndRecovers() async throws {
        let mountDir = try SmallFileSystem.mount(megabytes: 8)
        defer { SmallFileSystem.unmount(mountDir) }
        let server = ServerProcess(dataDir: mountDir + "/data")
        try server.start(extraArguments: ["--job-poll-wait", "0", "--body-file-threshold", "\(Self.threshold)"])
        defer { server.stop() }

        // A dataset with samples, the initial tag, embeddings and one image, while there is room.
        let ds = try #require(ServerProcess.id(await server.call("POST", "/v1/datasets", json: #"{"name":"full"}"#).body))
        var samples: [String] = []
        let names = (0 ..< 8).map { "img_\($0).png" }
        for n in names {
            samples.append(try #require(ServerProcess.id(await server.call("POST", "/v1/datasets/\(ds)/samples",
                                                                            json: #"{"fileName":"\#(n)","metaData":{}}"#).body)))
        }
        let initial = try #require(ServerProcess.id(await server.call("POST", "/v1/datasets/\(ds)/tags/initial", json: #"{"imgType":"full"}"#).body))
        func uploadCSV(seed: Int) async -> [(status: Int, body: Data)] {
            let w = await server.call("GET", "/v1/datasets/\(ds)/embeddings/writeCSVUrl?name=e\(seed)")
            guard w.status == 200, let o = try? JSONSerialization.jsonObject(with: w.body) as? [String: Any],
                  let put = o["signedWriteUrl"] as? String, let eid = o["embeddingId"] as? String else { return [w] }
            var r = await server.call("PUT", put, body: Data(Self.csv(names, seed: seed).utf8))
            if r.status == 200 { r.body = Data(eid.utf8) }
            return [w, r]
        }
        let firstCSV = await uploadCSV(seed: 0)
        #expect(firstCSV.map(\.status) == [200, 200])
        let embedding = String(decoding: firstCSV.last?.body ?? Data(), as: UTF8.self)
        func putImage(_ sample: String, _ data: Data) async -> (status: Int, body: Data) {
            let u = await server.call("GET", "/v1/datasets/\(ds)/samples/\(sample)/writeurl?isThumbnail=False")
            guard u.status == 200, let url = try? JSONDecoder().decode(String.self, from: u.body) else { return u }
            return await server.call("PUT", url, body: data)
        }
        let small = Self.payload(8 * 1024, seed: 1)
        #expect(await putImage(samples[0], small).status == 200)
        func sampling(_ name: String) -> String {
            #"{"newTagName":"\#(name)","method":"CORESET","config":{"stoppingCondition":{"nSamples":3}}}"#
        }

        // Fill the file system.
        let filler = mountDir + "/filler"
        let filled = SmallFileSystem.fill(filler)
        #expect(filled > 0)

        var seen507 = 0
        // Uploads: a spilled body (HTTP layer) and an in-memory one (blob store).
        let big = await putImage(samples[1], Self.payload(256 * 1024, seed: 2))
        #expect(big.status == 507, "spilled upload on a full disk: \(big.status)")
        Self.expectOKOr507(big, "spilled upload", seen507: &seen507)
        let inMemory = await putImage(samples[2], Self.payload(8 * 1024, seed: 3))
        #expect(inMemory.status == 507, "in-memory upload on a full disk: \(inMemory.status)")
        Self.expectOKOr507(inMemory, "in-memory upload", seen507: &seen507)
        // Ingest: creating the embedding or storing its CSV runs out of space.
        let ingest = await uploadCSV(seed: 1)
        for r in ingest { Self.expectOKOr507(r, "embedding upload", seen507: &seen507) }
        #expect(ingest.contains { $0.status == 507 }, "embedding upload on a full disk: \(ingest.map(\.status))")
        // Tag writes until the database cannot grow (the WAL may still have room for a few).
        var createdTags: [String] = []
        let padding = String(repeating: "x", count: 900)
        var tagFailed = false
        for i in 0 ..< 400 {
            let r = await server.call("POST", "/v1/datasets/\(ds)/tags",
                                      json: #"{"name":"t\#(i)-\#(padding)","prevTagId":"\#(initial)","bitMaskData":"0x1","totSize":8}"#)
            Self.expectOKOr507(r, "tag write \(i)", seen507: &seen507)
            if r.status == 507 { tagFailed = true; break }
            if r.status == 201 { createdTags.append("t\(i)-\(padding)") }
        }
        #expect(tagFailed, "400 tag writes on a full disk all succeeded")
        // A job: queueing it is a write; if it was queued, it ends (finished, or failed saying why).
        let job = await server.call("POST", "/v1/datasets/\(ds)/embeddings/\(embedding)/sampling", json: sampling("while-full"))
        Self.expectOKOr507(job, "sampling request", seen507: &seen507)
        if job.status == 200, let o = try? JSONSerialization.jsonObject(with: job.body) as? [String: Any], let jobId = o["jobId"] as? String {
            var status = ""
            for _ in 0 ..< 300 {
                let s = await server.call("GET", "/v1/jobs/\(jobId)")
                let j = (try? JSONSerialization.jsonObject(with: s.body) as? [String: Any]) ?? [:]
                status = j["status"] as? String ?? ""
                if status == "FINISHED" { createdTags.append("while-full"); break }
                if status == "FAILED" {
                    #expect((j["error"] as? String ?? "").contains("storage is full"), "\(j)")
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(status == "FINISHED" || status == "FAILED")
        }
        #expect(seen507 >= 4)

        // Reads keep working.
        #expect(await server.call("GET", "/v1/datasets").status == 200)
        #expect(await server.call("GET", "/v1/datasets/\(ds)/samples").status == 200)
        let tags = await server.call("GET", "/v1/datasets/\(ds)/tags")
        #expect(tags.status == 200)
        let tagNames = ((try? JSONSerialization.jsonObject(with: tags.body) as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }
        #expect(tagNames == ["initial-tag"] + createdTags, "only acknowledged tags exist")
        let read = await server.call("GET", "/v1/datasets/\(ds)/samples/\(samples[0])/readurl?type=full")
        let readURL = try #require(try? JSONDecoder().decode(String.self, from: read.body))
        let image = await server.call("GET", readURL)
        #expect(image.status == 200)
        #expect(image.body == small)
        // Nothing half-written: the failed uploads left no file behind.
        #expect(await server.call("GET", "/v1/datasets/\(ds)/samples/\(samples[1])/readurl?type=full").status == 404)
        #expect(try server.debris() == [])

        // Space comes back: writes work again.
        try FileManager.default.removeItem(atPath: filler)
        #expect(await server.call("POST", "/v1/datasets/\(ds)/tags",
                                  json: #"{"name":"after","prevTagId":"\#(initial)","bitMaskData":"0x3","totSize":8}"#).status == 201)
        let bigAgain = Self.payload(256 * 1024, seed: 4)
        #expect(await putImage(samples[1], bigAgain).status == 200)
        #expect(await uploadCSV(seed: 2).map(\.status) == [200, 200])
        let again = await server.call("POST", "/v1/datasets/\(ds)/embeddings/\(embedding)/sampling", json: sampling("after-full"))
        #expect(again.status == 200, "\(String(decoding: again.body, as: UTF8.self))")
        let read1 = await server.call("GET", "/v1/datasets/\(ds)/samples/\(samples[1])/readurl?type=full")
        if let u = try? JSONDecoder().decode(String.self, from: read1.body) {
            #expect(await server.call("GET", u).body == bigAgain)
        } else {
            Issue.record("no read URL after the disk was freed: \(read1.status)")
        }
        #expect(try server.integrityCheck() == "ok")
        #expect(try server.debris() == [])
    }

    /// The fallback where no tmpfs can be mounted: a file-size limit (RLIMIT_FSIZE) makes large
    /// writes fail with EFBIG, which the server answers like a full disk (507) and survives.
    @Test(.timeLimit(.minutes(2)))
    func fileSizeLimitAnswers507() async throws {
        let dir = NSTemporaryDirectory() + "lightly-fsize-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = ServerProcess(dataDir: dir)
        // 4096 blocks of 512 bytes: 2 MiB per file. The database stays far below it.
        try server.startLimited(fileSizeBlocks: 4096, extraArguments: ["--body-file-threshold", "\(Self.threshold)"])
        defer { server.stop() }
        let ds = try #require(ServerProcess.id(await server.call("POST", "/v1/datasets", json: #"{"name":"limited"}"#).body))
        let sample = try #require(ServerProcess.id(await server.call("POST", "/v1/datasets/\(ds)/samples",
                                                                     json: #"{"fileName":"a.png","metaData":{}}"#).body))
        let u = await server.call("GET", "/v1/datasets/\(ds)/samples/\(sample)/writeurl")
        let url = try #require(try? JSONDecoder().decode(String.self, from: u.body))
        let tooBig = await server.call("PUT", url, body: Self.payload(3 << 20, seed: 5))
        #expect(tooBig.status == 507, "\(tooBig.status) \(String(decoding: tooBig.body, as: UTF8.self))")
        #expect(ServerProcess.errorCode(tooBig.body) == "INSUFFICIENT_STORAGE")
        #expect(server.process?.isRunning == true, "SIGXFSZ must not kill the server")
        #expect(await server.call("GET", "/v1/datasets/\(ds)/samples").status == 200)
        let fits = Self.payload(64 * 1024, seed: 6)
        #expect(await server.call("PUT", url, body: fits).status == 200)
        #expect(try server.debris() == [])
        #expect(try server.integrityCheck() == "ok")
    }
}

extension ServerProcess {
    /// Starts the server under `ulimit -f` (a per-file size limit, in 512-byte blocks).
    func startLimited(fileSizeBlocks: Int, extraArguments: [String]) throws {
        try start(wrapper: ["/bin/sh", "-c", "ulimit -f \(fileSizeBlocks) && exec \"$0\" \"$@\""],
                  extraArguments: ["--job-poll-wait", "0"] + extraArguments)
    }
}
