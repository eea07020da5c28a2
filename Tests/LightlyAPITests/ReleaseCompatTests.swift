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

/// A dataset of `n` samples `f00.png`… with an initial tag and a tag holding every third
/// sample, for the routes the 1.2.14–1.5.26 releases added.
struct CompatFixture {
    let t: TestApp
    let token: String
    let datasetId: String
    let initialTagId: String
    let thirdsTagId: String
    let n: Int

    static func name(_ i: Int) -> String { "f" + String(100 + i).dropFirst() + ".png" }

    static func make(samples n: Int) throws -> CompatFixture {
        let t = try TestApp.make()
        let token = try t.makeUser("alice")
        let ds = try #require(t.call(.POST, "/v1/datasets", token: token, json: #"{"name":"compat"}"#).json["id"]?.stringValue)
        for i in 0 ..< n {
            let r = try t.call(.POST, "/v1/datasets/\(ds)/samples", token: token,
                               json: #"{"fileName":"\#(name(i))","metaData":{"sizeInBytes":\#(i + 1),"is_corrupted":false}}"#)
            #expect(r.status == 201, "\(r.text)")
        }
        let initial = try #require(t.call(.POST, "/v1/datasets/\(ds)/tags/initial", token: token,
                                          json: #"{"imgType":"full","creator":"USER_PIP"}"#).json["id"]?.stringValue)
        let bits = BitMask(indices: stride(from: 0, to: n, by: 3))
        let hex = n == 0 ? "0x0" : bits.hexString
        let thirds = try t.call(.POST, "/v1/datasets/\(ds)/tags", token: token,
                                json: #"{"name":"thirds","prevTagId":"\#(initial)","bitMaskData":"\#(hex)","totSize":\#(n),"creator":"USER_PIP"}"#)
        let thirdsId = try #require(thirds.json["id"]?.stringValue, "\(thirds.text)")
        return CompatFixture(t: t, token: token, datasetId: ds, initialTagId: initial, thirdsTagId: thirdsId, n: n)
    }

    var exportBase: String { "/v1/datasets/\(datasetId)/tags/\(thirdsTagId)/export" }

    /// Pages through `path` like the clients do: `pageOffset = k * pageSize`, until an empty
    /// page (1.2.29–1.4.7) or, with `stopOnShort`, a page shorter than `pageSize` (1.4.8+).
    /// Returns the items and the number of requests. Gives up after 1000 requests.
    func page(_ path: String, size: Int, stopOnShort: Bool, text: Bool = false) throws -> (items: [String], requests: Int) {
        var items: [String] = []
        var requests = 0
        while requests < 1000 {
            let sep = path.contains("?") ? "&" : "?"
            let r = try t.call(.GET, "\(path)\(sep)pageSize=\(size)&pageOffset=\(requests * size)", token: token)
            requests += 1
            #expect(r.status == 200, "\(path): \(r.text)")
            let chunk: [String]
            if text {
                chunk = r.text.isEmpty ? [] : r.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            } else {
                guard case .array(let a) = r.json else { Issue.record("\(path) answered \(r.text)"); break }
                chunk = a.map { $0.serialized() }
            }
            if chunk.isEmpty { break }
            items += chunk
            if stopOnShort && chunk.count < size { break }
        }
        return (items, requests)
    }

    /// The whole list in one request (no paging parameters).
    func all(_ path: String, text: Bool = false) throws -> [String] {
        let r = try t.call(.GET, path, token: token)
        #expect(r.status == 200, "\(path): \(r.text)")
        if text { return r.text.isEmpty ? [] : r.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
        guard case .array(let a) = r.json else { return [] }
        return a.map { $0.serialized() }
    }
}

@Suite struct ReleaseCompatTests {
    // MARK: - Route precedence

    @Test func literalSegmentBeatsParameterForSamplesPartial() throws {
        let f = try CompatFixture.make(samples: 4)
        // The router picks `samples/partial` over `samples/:sampleId`, whatever the order.
        guard case .found(let route, let params) = f.t.app.router.match(.GET, ["v1", "datasets", f.datasetId, "samples", "partial"]) else {
            Issue.record("no route"); return
        }
        #expect(route.pattern.text == "/v1/datasets/:datasetId/samples/partial")
        #expect(params["sampleId"] == nil)
        var r = Router()
        r.get("/a/:x") { _ in .emptyObject() }
        r.get("/a/lit") { _ in .emptyObject() }
        guard case .found(let lit, _) = r.match(.GET, ["a", "lit"]), case .found(let par, _) = r.match(.GET, ["a", "other"]) else {
            Issue.record("no route"); return
        }
        #expect(lit.pattern.text == "/a/lit" && par.pattern.text == "/a/:x")
        // Over HTTP: a list, not 404 SAMPLE_UNKNOWN.
        let resp = try f.t.call(.GET, "/v1/datasets/\(f.datasetId)/samples/partial?mode=fileNames", token: f.token)
        #expect(resp.status == 200)
        #expect(try resp.decode([SampleDataModes].self).map(\.fileName) == (0 ..< 4).map(CompatFixture.name))
    }

    @Test func samplesPartialModes() throws {
        let f = try CompatFixture.make(samples: 3)
        let base = "/v1/datasets/\(f.datasetId)/samples/partial"
        let ids = try f.t.call(.GET, base + "?mode=ids", token: f.token)
        guard case .array(let idItems) = ids.json else { Issue.record("\(ids.text)"); return }
        #expect(idItems.allSatisfy { if case .object(let o) = $0 { o.members.map(\.key) == ["id"] } else { false } })
        let names = try f.t.call(.GET, base + "?mode=fileNames", token: f.token).json
        #expect(names[0]?["fileName"] == .string("f00.png") && names[0]?["metaData"] == nil)
        let full = try f.t.call(.GET, base + "?mode=full&fileName=f01.png", token: f.token)
        let one = try full.decode([SampleDataModes].self)
        #expect(one.count == 1 && one[0].fileName == "f01.png" && one[0].index == 1 && one[0].type == .image)
        // Only the strict SampleMetaData keys go out; the stored metaData keeps the rest.
        #expect(one[0].metaData == ["sizeInBytes": 2])
        #expect(try f.t.call(.GET, base + "?mode=everything", token: f.token).status == 400)
        #expect(try f.t.call(.GET, base + "?mode=ids&fileName=nope.png", token: f.token).json == [])
    }

    // MARK: - Datasets by name

    @Test func datasetsQueryByName() throws {
        let t = try TestApp.make()
        let alice = try t.makeUser("alice"), bob = try t.makeUser("bob")
        for name in ["shots", "shots-2", "shots 3", "other", "a/b"] {
            #expect(try t.call(.POST, "/v1/datasets", token: alice, json: #"{"name":"\#(name)"}"#).status == 201)
        }
        func names(_ target: String, _ token: String) throws -> [String] {
            let r = try t.call(.GET, target, token: token)
            #expect(r.status == 200, "\(r.text)")
            return try r.decode([DatasetData].self).map(\.name)
        }
        #expect(try names("/v1/datasets/query/name/shots?exact=True&shared=False", alice) == ["shots"])
        #expect(try names("/v1/datasets/query/name/shots?exact=False", alice) == ["shots", "shots-2", "shots 3"])
        #expect(try names("/v1/datasets/query/name/shots", alice) == ["shots", "shots-2", "shots 3"])
        #expect(try names("/v1/datasets/query/name/shots%203?exact=True", alice) == ["shots 3"])
        #expect(try names("/v1/datasets/query/name/a%2Fb?exact=True", alice) == ["a/b"])
        // Nothing matches: an empty list, not 404.
        #expect(try names("/v1/datasets/query/name/missing?exact=True", alice) == [])
        // Another user's datasets are invisible; no sharing, no teams.
        #expect(try names("/v1/datasets/query/name/shots?exact=True", bob) == [])
        #expect(try names("/v1/datasets/query/name/shots?exact=True&shared=True", alice) == [])
        #expect(try names("/v1/datasets/query/name/shots?exact=True&getAssetsOfTeam=True", alice) == [])
        #expect(try names("/v1/datasets/query/name/shots?exact=True&getAssetsOfTeamInclusiveSelf=True&excludePlayground=True", alice) == ["shots"])
        #expect(try t.call(.GET, "/v1/datasets/query/name/shots?exact=maybe", token: alice).status == 400)
        #expect(try t.call(.GET, "/v1/datasets/query/name/shots?pageSize=0", token: alice).status == 400)
        #expect(try t.call(.GET, "/v1/datasets/query/name/shots", token: nil).status == 401)
    }

    // MARK: - Paging

    /// Every route a release pages, with its item count in this fixture.
    static func pagedRoutes(_ f: CompatFixture) -> [(path: String, count: Int, text: Bool)] {
        let ds = "/v1/datasets/\(f.datasetId)"
        let inTag = (f.n + 2) / 3
        return [
            ("/v1/datasets?shared=False", 1, false),
            ("\(ds)/tags", 2, false),
            ("/v1/datasets/query/name/compat?exact=True&shared=False", 1, false),
            ("\(ds)/samples", f.n, false),
            ("\(ds)/samples/partial?mode=fileNames", f.n, false),
            ("\(ds)/mappings?field=fileName", f.n, false),
            ("\(ds)/mappings?field=_id", f.n, false),
            ("\(f.exportBase)/basic/filenames", inTag, true),
            ("\(f.exportBase)/basic/filenames?fileNameFormat=REDIRECTED_READ_URL&expiresIn=60", inTag, true),
            ("\(f.exportBase)/basic/filenamesAndReadUrls", inTag, false),
            ("\(f.exportBase)/LabelStudio/tasks", inTag, false),
            ("\(f.exportBase)/LabelStudioTasks", inTag, false),
            ("\(f.exportBase)/LabelBox/datarows", inTag, false),
            ("\(f.exportBase)/LabelBoxDataRows", inTag, false),
            ("\(f.exportBase)/LabelBoxV4/datarows", inTag, false),
        ]
    }

    /// A client that asks for the next page until an empty page stops after exactly
    /// ceil(N / pageSize) + 1 requests and sees every item once, in order; one that also stops
    /// on a short page needs at most that many. For N in {0, 1, 7, 12} and every page size
    /// from 1 to N + 2.
    @Test(arguments: [0, 1, 7, 12])
    func everyPagedRouteEndsAfterCeilNOverPageSizePlusOne(n: Int) throws {
        let f = try CompatFixture.make(samples: n)
        // A second dataset so `/v1/datasets` has something the name query must leave out.
        #expect(try f.t.call(.POST, "/v1/datasets", token: f.token, json: #"{"name":"zz"}"#).status == 201)
        for route in Self.pagedRoutes(f) {
            let count = route.path.hasPrefix("/v1/datasets?") ? 2 : route.count
            let whole = try f.all(route.path, text: route.text)
            #expect(whole.count == count, "\(route.path)")
            for size in 1 ... count + 2 {
                let expected = (count + size - 1) / size + 1
                let untilEmpty = try f.page(route.path, size: size, stopOnShort: false, text: route.text)
                #expect(untilEmpty.requests == expected, "\(route.path) pageSize=\(size)")
                let untilShort = try f.page(route.path, size: size, stopOnShort: true, text: route.text)
                #expect(untilShort.requests <= expected, "\(route.path) pageSize=\(size)")
                // Read URLs are minted per request (same target, maybe another expiry second):
                // compare the items only where they are deterministic.
                if !route.path.contains("REDIRECTED_READ_URL") && !route.path.contains("ReadUrl")
                    && !route.path.contains("LabelStudio") && !route.path.contains("LabelBox") {
                    #expect(untilEmpty.items == whole && untilShort.items == whole, "\(route.path) pageSize=\(size)")
                } else {
                    #expect(untilEmpty.items.count == count && untilShort.items.count == count, "\(route.path) pageSize=\(size)")
                }
            }
        }
    }

    @Test func malformedPagingIsRejectedOnEveryPagedRoute() throws {
        let f = try CompatFixture.make(samples: 2)
        for route in Self.pagedRoutes(f) {
            let sep = route.path.contains("?") ? "&" : "?"
            for bad in ["pageSize=0", "pageSize=-1", "pageSize=x", "pageOffset=-5", "pageOffset=1.5", "pageSize=", "pageOffset=abc"] {
                let r = try f.t.call(.GET, route.path + sep + bad, token: f.token)
                #expect(r.status == 400, "\(route.path) \(bad): \(r.status)")
                #expect(r.errorCode == "MALFORMED_REQUEST", "\(route.path) \(bad)")
            }
            // Past the end: an empty page.
            let past = try f.t.call(.GET, route.path + sep + "pageSize=5&pageOffset=1000", token: f.token)
            #expect(past.status == 200 && (route.text ? past.text.isEmpty : past.json == []), "\(route.path)")
        }
    }

    // MARK: - Exports

    @Test func exportsCarryFileNamesAndWorkingSignedReadURLs() throws {
        let f = try CompatFixture.make(samples: 5)
        // Upload the full image of sample 3 (in the tag: 0 and 3).
        let samples = try f.t.call(.GET, "/v1/datasets/\(f.datasetId)/samples", token: f.token).decode([SampleData].self)
        let s3 = samples[3].id
        let put = try f.t.call(.GET, "/v1/datasets/\(f.datasetId)/samples/\(s3)/writeurl?isThumbnail=False", token: f.token)
        let putURL = try #require(put.json.stringValue)
        #expect(try f.t.call(.PUT, JobsHTTPFixture.target(of: putURL), body: .bytes(Data("PNGDATA".utf8))).status == 200)

        let names = try f.t.call(.GET, "\(f.exportBase)/basic/filenames", token: f.token)
        #expect(names.text == "f00.png\nf03.png")
        #expect(names.response.headers[.contentType]?.hasPrefix("text/plain") == true)
        #expect(try f.t.call(.GET, "\(f.exportBase)/basic/filenames?fileNameFormat=DATASOURCE_FULL", token: f.token).text == "f00.png\nf03.png")
        #expect(try f.t.call(.GET, "\(f.exportBase)/basic/filenames?fileNameFormat=BOGUS", token: f.token).status == 400)
        #expect(try f.t.call(.GET, "\(f.exportBase)/basic/filenames?format=JSON", token: f.token).json == ["f00.png", "f03.png"])

        let before = Timestamp.nowSeconds()
        let urls = try f.t.call(.GET, "\(f.exportBase)/basic/filenames?fileNameFormat=REDIRECTED_READ_URL&expiresIn=120", token: f.token).text
            .split(separator: "\n").map(String.init)
        #expect(urls.count == 2 && urls.allSatisfy { $0.hasPrefix("http://testhost:8080/signed/sample/\(f.datasetId)/") })
        // `expiresIn` sets the lifetime.
        let expires = try #require(urls[1].split(separator: "expires=").last?.split(separator: "&").first.flatMap { Int64($0) })
        #expect(expires >= before + 120 && expires <= Timestamp.nowSeconds() + 120)
        // The URL of the uploaded image serves it; the other answers 404 (nothing uploaded).
        #expect(try f.t.call(.GET, JobsHTTPFixture.target(of: urls[1])).text == "PNGDATA")
        #expect(try f.t.call(.GET, JobsHTTPFixture.target(of: urls[0])).status == 404)
        #expect(try f.t.call(.GET, "\(f.exportBase)/basic/filenames?expiresIn=0", token: f.token).status == 400)

        let pairs = try f.t.call(.GET, "\(f.exportBase)/basic/filenamesAndReadUrls", token: f.token).decode([FilenameAndReadUrl].self)
        #expect(pairs.map(\.fileName) == ["f00.png", "f03.png"])
        #expect(try f.t.call(.GET, JobsHTTPFixture.target(of: pairs[1].readUrl)).text == "PNGDATA")

        for path in ["/LabelStudio/tasks", "/LabelStudioTasks"] {
            let tasks = try f.t.call(.GET, f.exportBase + path, token: f.token).decode([LabelStudioTask].self)
            #expect(tasks.map(\.id) == [0, 3] && tasks.map(\.data.lightlyFileName) == ["f00.png", "f03.png"])
            #expect(tasks.allSatisfy { $0.data.lightlyMetaInfo == nil })
            #expect(try f.t.call(.GET, JobsHTTPFixture.target(of: tasks[1].data.image)).text == "PNGDATA")
        }
        let withMeta = try f.t.call(.GET, "\(f.exportBase)/LabelStudio/tasks?includeMetaData=True", token: f.token).decode([LabelStudioTask].self)
        #expect(withMeta[1].data.lightlyMetaInfo?.id == s3 && withMeta[1].data.lightlyMetaInfo?.metaData == ["sizeInBytes": 4])
        let preview = try f.t.call(.GET, "\(f.exportBase)/LabelStudio/tasks?previewExample=True", token: f.token).decode([LabelStudioTask].self)
        #expect(preview.count == 1)

        for path in ["/LabelBox/datarows", "/LabelBoxDataRows"] {
            let rows = try f.t.call(.GET, f.exportBase + path, token: f.token).decode([LabelBoxDataRow].self)
            #expect(rows.map(\.externalId) == ["f00.png", "f03.png"])
        }
        let v4 = try f.t.call(.GET, "\(f.exportBase)/LabelBoxV4/datarows", token: f.token).json
        #expect(v4[0]?["global_key"] == "f00.png" && v4[0]?["media_type"] == "IMAGE" && v4[0]?["row_data"]?.stringValue != nil)
    }

    @Test func exportsCheckOwnershipAndTag() throws {
        let f = try CompatFixture.make(samples: 2)
        let bob = try f.t.makeUser("bob")
        let other = try f.t.call(.GET, "\(f.exportBase)/basic/filenames", token: bob)
        #expect(other.status == 404 && other.errorCode == "DATASET_UNKNOWN")
        let noTag = try f.t.call(.GET, "/v1/datasets/\(f.datasetId)/tags/aaaaaaaaaaaaaaaaaaaaaaaa/export/LabelStudio/tasks", token: f.token)
        #expect(noTag.status == 404 && noTag.errorCode == "TAG_UNKNOWN")
        #expect(try f.t.call(.GET, "\(f.exportBase)/LabelBox/datarows", token: nil).status == 401)
    }
}
