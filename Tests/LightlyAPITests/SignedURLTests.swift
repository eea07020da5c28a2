import Foundation
import HTTPKit
@testable import LightlyAPI
import LightlyCore
import LightlyStorage
import LightlyWire
import Testing

@Suite struct SignedURLTests {
    func setup() throws -> (TestApp, String, String, String) {
        let t = try TestApp.make()
        let tok = try t.makeUser("alice")
        let ds = try t.makeDataset("a", token: tok)
        let s = try t.makeSample("img/a.jpg", dataset: ds, token: tok)
        return (t, tok, ds, s)
    }

    @Test func putAnswersExactly200AndGetReturnsTheSameBytes() throws {
        let (t, tok, ds, s) = try setup()
        let urls = try t.call(.GET, "/v1/datasets/\(ds)/samples/\(s)/writeurls", token: tok).decode(SampleWriteUrls.self)
        let image = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        // No token, no Content-Type (as `requests.put` sends it).
        let put = try t.call(.PUT, targetOf(urls.full), body: .bytes(Data(image)), headers: [:])
        #expect(put.status == 200)
        #expect(put.bytes.isEmpty)
        let thumb = try t.call(.PUT, targetOf(urls.thumb), body: .bytes(Data([1, 2, 3])), headers: [:])
        #expect(thumb.status == 200)

        let read = try t.call(.GET, "/v1/datasets/\(ds)/samples/\(s)/readurl?type=full", token: tok).decode(String.self)
        let got = try t.call(.GET, targetOf(read))
        #expect(got.status == 200)
        #expect(got.bytes == image)
        #expect(got.response.headers[.contentType] == "image/jpeg")
        guard case .file = got.response.body else { Issue.record("expected a streamed file body"); return }

        let readThumb = try t.call(.GET, "/v1/datasets/\(ds)/samples/\(s)/readurl?type=thumbnail", token: tok).decode(String.self)
        let gotThumb = try t.call(.GET, targetOf(readThumb))
        #expect(gotThumb.bytes == [1, 2, 3])
        #expect(gotThumb.response.headers[.contentType] == "image/webp")
    }

    @Test func repeatedPutReplacesAtomically() throws {
        let (t, tok, ds, s) = try setup()
        let url = try t.call(.GET, "/v1/datasets/\(ds)/samples/\(s)/writeurl?isThumbnail=False", token: tok).decode(String.self)
        #expect(try t.call(.PUT, targetOf(url), body: .bytes(Data([1]))).status == 200)
        let first = try t.app.database.read { conn in try conn.queryOne("SELECT full_blob_id FROM samples")?.string(0) } ?? ""
        #expect(try t.call(.PUT, targetOf(url), body: .bytes(Data([2, 2]))).status == 200)
        let second = try t.app.database.read { conn in try conn.queryOne("SELECT full_blob_id FROM samples")?.string(0) } ?? ""
        #expect(first != second)
        #expect(FileIO.fileSize(t.app.blobs.path(for: first) ?? "") == nil)     // old file removed
        let blobRows = try t.app.database.read { conn in try conn.queryOne("SELECT COUNT(*) FROM blobs")?.int(0) }
        #expect(blobRows == 1)
        let read = try t.call(.GET, "/v1/datasets/\(ds)/samples/\(s)/readurl?type=full", token: tok).decode(String.self)
        #expect(try t.call(.GET, targetOf(read)).bytes == [2, 2])
    }

    @Test func fileBodyIsMovedNotCopied() throws {
        let (t, tok, ds, s) = try setup()
        let url = try t.call(.GET, "/v1/datasets/\(ds)/samples/\(s)/writeurl?isThumbnail=False", token: tok).decode(String.self)
        let spooled = t.app.blobs.tmpDirectory + "/spooled-body"
        try Data([9, 8, 7, 6]).write(to: URL(fileURLWithPath: spooled))
        #expect(try t.call(.PUT, targetOf(url), body: .file(path: spooled, count: 4)).status == 200)
        #expect(FileIO.fileSize(spooled) == nil)
        let read = try t.call(.GET, "/v1/datasets/\(ds)/samples/\(s)/readurl?type=full", token: tok).decode(String.self)
        #expect(try t.call(.GET, targetOf(read)).bytes == [9, 8, 7, 6])
    }

    @Test func tamperedOrWrongMethodIs403() throws {
        let (t, tok, ds, s) = try setup()
        let url = targetOf(try t.call(.GET, "/v1/datasets/\(ds)/samples/\(s)/writeurl?isThumbnail=False", token: tok).decode(String.self))
        // Flip the last signature digit.
        let last = url.last == "0" ? "1" : "0"
        let tampered = String(url.dropLast()) + last
        let r = try t.call(.PUT, tampered, body: .bytes(Data([1])))
        #expect(r.status == 403)
        #expect(r.errorCode == "FORBIDDEN")
        // Same URL for another sample variant / object.
        let other = url.replacingOccurrences(of: "/full?", with: "/thumbnail?")
        #expect(try t.call(.PUT, other, body: .bytes(Data([1]))).status == 403)
        // A PUT URL is not a GET URL.
        #expect(try t.call(.GET, url).status == 403)
        // Longer expiry with the old signature.
        let extended = url.replacingOccurrences(of: "expires=", with: "expires=9")
        #expect(try t.call(.PUT, extended, body: .bytes(Data([1]))).status == 403)
        // Missing parameters.
        let bare = String(url.prefix { $0 != "?" })
        #expect(try t.call(.PUT, bare, body: .bytes(Data([1]))).status == 403)
        // Nothing was stored.
        let stored = try t.app.database.read { conn in try conn.queryOne("SELECT full_blob_id FROM samples")?.stringOrNil(0) }
        #expect(stored == nil)
        // `//` in the path still verifies (canonical path is signed).
        #expect(try t.call(.PUT, "/" + url, body: .bytes(Data([1]))).status == 200)
    }

    @Test func expiredURLIs403SayingExpired() throws {
        let (t, _, ds, s) = try setup()
        let target = SignedTarget(kind: "sample", datasetId: ds, objectId: s, variant: "full")
        let url = t.app.signer.url(base: "http://x", method: .PUT, target: target, ttl: 10, now: Timestamp.nowSeconds() - 100)
        let r = try t.call(.PUT, targetOf(url), body: .bytes(Data([1])))
        #expect(r.status == 403)
        #expect(r.errorCode == "FORBIDDEN")
        #expect(r.text.contains("expired"))
    }

    @Test func unknownKindAndVariant() throws {
        let (t, _, ds, s) = try setup()
        for (kind, variant) in [("nope", "full"), ("sample", "original")] {
            let url = t.app.signer.url(base: "http://x", method: .PUT,
                                       target: SignedTarget(kind: kind, datasetId: ds, objectId: s, variant: variant), ttl: 60)
            let r = try t.call(.PUT, targetOf(url), body: .bytes(Data([1])))
            #expect(r.status == 404)
        }
        let blobs = try t.app.database.read { conn in try conn.queryOne("SELECT COUNT(*) FROM blobs")?.int(0) }
        #expect(blobs == 0)
    }

    @Test func putForDeletedSampleLeavesNoFile() throws {
        let (t, tok, ds, s) = try setup()
        let url = try t.call(.GET, "/v1/datasets/\(ds)/samples/\(s)/writeurl?isThumbnail=False", token: tok).decode(String.self)
        #expect(try t.call(.DELETE, "/v1/datasets/\(ds)", token: tok, json: "{}").status == 200)
        let r = try t.call(.PUT, targetOf(url), body: .bytes(Data([1, 2])))
        #expect(r.status == 404)
        let files = try FileManager.default.subpathsOfDirectory(atPath: t.app.blobs.blobsDirectory)
            .filter { $0.contains("/") }
        #expect(files.isEmpty)
    }

    @Test func signerRoundTrip() {
        let s = URLSigner(secret: Array(repeating: 7, count: 32))
        let target = SignedTarget(kind: "csv", datasetId: "a", objectId: "b", variant: "c")
        let url = s.url(base: "http://h", method: .GET, target: target, ttl: 60, now: 1000)
        #expect(url.hasPrefix("http://h/signed/csv/a/b/c?expires=1060&sig="))
        let sig = String(url.split(separator: "sig=")[1])
        #expect(sig.count == 64)
        #expect(throws: Never.self) { try s.verify(method: .GET, path: target.path, expires: "1060", sig: sig, now: 1000) }
        #expect(throws: APIError.self) { try s.verify(method: .GET, path: target.path, expires: "1060", sig: sig, now: 1061) }
        #expect(throws: APIError.self) { try s.verify(method: .PUT, path: target.path, expires: "1060", sig: sig, now: 1000) }
        #expect(throws: APIError.self) { try s.verify(method: .GET, path: target.path, expires: "1060", sig: "zz", now: 1000) }
    }
}

@Suite struct BlobSweepTests {
    @Test func sweepRemovesOldOrphansOnly() throws {
        let t = try TestApp.make()
        let kept = try t.app.blobs.store(bytes: [1])
        let orphan = try t.app.blobs.store(bytes: [2])
        let fresh = try t.app.blobs.store(bytes: [3])
        let stale = t.app.blobs.tmpDirectory + "/upload-stale"
        try Data([4]).write(to: URL(fileURLWithPath: stale))
        let old = Date().addingTimeInterval(-7200)
        for p in [t.app.blobs.path(for: kept.id)!, t.app.blobs.path(for: orphan.id)!, stale] {
            try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: p)
        }
        let removed = t.app.blobs.sweep { $0 == kept.id }
        #expect(removed == 2)
        #expect(FileIO.fileSize(t.app.blobs.path(for: kept.id)!) == 1)
        #expect(FileIO.fileSize(t.app.blobs.path(for: orphan.id)!) == nil)
        #expect(FileIO.fileSize(t.app.blobs.path(for: fresh.id)!) == 1)    // too young to judge
        #expect(FileIO.fileSize(stale) == nil)
    }
}

@Suite struct DebrisAtStartTests {
    /// Files a crash leaves: a spooled body, a half-written blob, an orphan blob file; plus
    /// files the server did not make, which must stay.
    func plant(_ t: TestApp) throws -> (debris: [String], foreign: [String], kept: String) {
        let b = t.app.blobs
        let kept = try b.store(bytes: [1])
        try t.app.database.write { conn in
            try conn.run("INSERT INTO blobs (id, dataset_id, kind, size, created_at) VALUES (?, NULL, 'full', 1, 0)", kept.id)
        }
        let orphan = try b.store(bytes: [2])
        let debris = [b.tmpDirectory + "/httpkit-body-AbC123", b.tmpDirectory + "/upload-1-2-3",
                      b.tmpDirectory + "/embedding-x.csv", b.path(for: orphan.id)!]
        for p in debris.dropLast() { try Data([9]).write(to: URL(fileURLWithPath: p)) }
        let foreign = [b.tmpDirectory + "/notes.txt", b.blobsDirectory + "/README"]
        for p in foreign { try Data([8]).write(to: URL(fileURLWithPath: p)) }
        return (debris, foreign, b.path(for: kept.id)!)
    }

    @Test func startAloneRemovesEvenYoungDebrisButNothingElse() throws {
        let t = try TestApp.make()
        let (debris, foreign, kept) = try plant(t)
        t.app.start()
        defer { t.app.stop() }
        // On a shared store (PostgreSQL) a server on another host may be writing these files:
        // the start sweep takes only old files there, however alone the lock says it is.
        let shared = t.app.database.dialect == .postgres
        for p in debris { #expect(FileManager.default.fileExists(atPath: p) == shared, "\(p)") }
        for p in foreign + [kept] { #expect(FileManager.default.fileExists(atPath: p), "\(p)") }
    }

    @Test func anotherServerOnTheFolderOnlyRemovesOldDebris() throws {
        let t = try TestApp.make()
        t.app.start()                       // holds the folder
        defer { t.app.stop() }
        let (debris, _, _) = try plant(t)
        var settings = APISettings()
        settings.debrisSweepInterval = 0
        let second = try LightlyApplication(database: t.app.database, dataDirectory: t.app.dataDirectory,
                                            settings: settings, logger: t.app.logger)
        second.start()
        defer { second.stop() }
        for p in debris { #expect(FileManager.default.fileExists(atPath: p), "young files of a running server stay: \(p)") }
    }

    @Test func periodicSweepRemovesOldDebris() throws {
        var settings = APISettings()
        settings.debrisSweepInterval = 0.2
        settings.debrisMinimumAge = 60
        let t = try TestApp.make(settings: settings)
        t.app.start()
        defer { t.app.stop() }
        let (debris, foreign, kept) = try plant(t)
        let old = Date().addingTimeInterval(-120)
        for p in debris { try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: p) }
        let young = t.app.blobs.tmpDirectory + "/httpkit-body-young"
        try Data([7]).write(to: URL(fileURLWithPath: young))
        let deadline = Date().addingTimeInterval(5)
        while debris.contains(where: { FileManager.default.fileExists(atPath: $0) }) && Date() < deadline { usleep(50_000) }
        for p in debris { #expect(!FileManager.default.fileExists(atPath: p), "\(p)") }
        for p in foreign + [kept, young] { #expect(FileManager.default.fileExists(atPath: p), "\(p)") }
    }
}
