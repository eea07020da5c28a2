#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LightlyWire
import Testing

@Suite struct WireTests {
    @Test func jsonValueKeepsOrderAndNumbers() throws {
        let text = #"{"z":1,"a":[1.5,-2,1e-05,0.8299317261466008,true,null,"s\"\u00e9\n"],"m":{"b":{},"a":[]},"big":12345678901234}"#
        let v = try JSONValue.parse(text)
        #expect(v.serialized() == #"{"z":1,"a":[1.5,-2,1e-05,0.8299317261466008,true,null,"s\"é\n"],"m":{"b":{},"a":[]},"big":12345678901234}"#)
        #expect(v["z"] == .integer(1))
        #expect(v["a"]?[0] == .double(1.5))
        #expect(v.objectValue?.keys == ["z", "a", "m", "big"])
    }

    @Test(arguments: ["NaN", "Infinity", "-Infinity", "[1, NaN]", #"{"a": Infinity}"#])
    func nonFiniteTokensAreRejected(_ text: String) {
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(text) }
        do { _ = try JSONValue.parse(text) } catch { #expect("\(error)".contains("non-finite")) }
    }

    @Test(arguments: ["", "{", "[1,]", #"{"a":1,}"#, "01", "1.", "tru", #""\x""#, "1 2", #"{"a" 1}"#, "1e999"])
    func malformedJSONIsRejected(_ text: String) {
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(text) }
    }

    @Test func surrogatePairs() throws {
        #expect(try JSONValue.parse(#""\ud83d\ude00""#) == .string("😀"))
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(#""\ud83d""#) }
    }

    @Test func dtoEncodingOmitsNilAndKeepsCamelCase() throws {
        let d = DatasetData(id: "i", name: "n", userId: "u", nSamples: 1, sizeInBytes: 2, createdAt: 3, lastModifiedAt: 4)
        let text = String(decoding: try WireJSON.encode(d), as: UTF8.self)
        #expect(text == #"{"id":"i","name":"n","userId":"u","type":"Images","nSamples":1,"sizeInBytes":2,"createdAt":3,"lastModifiedAt":4}"#)
        let s = SampleData(id: "s", fileName: "f.png", metaData: ["b": 1, "a": 2])
        let st = String(decoding: try WireJSON.encode(s), as: UTF8.self)
        #expect(st == #"{"id":"s","type":"IMAGE","fileName":"f.png","metaData":{"b":1,"a":2}}"#)
        let e = String(decoding: try WireJSON.encode(ApiErrorResponse(code: .tagUnknown, message: "m")), as: UTF8.self)
        #expect(e == #"{"code":"TAG_UNKNOWN","message":"m"}"#)
    }

    @Test func decodeErrorsNameTheField() throws {
        func message(_ text: String) -> String {
            do { _ = try WireJSON.decode(SampleCreateRequest.self, from: Array(text.utf8)); return "" }
            catch { return WireJSON.describe(error) }
        }
        #expect(message(#"{"metaData":{}}"#).contains("\"fileName\""))
        #expect(message(#"{"fileName":3}"#).contains("\"fileName\""))
        #expect(message(#"{"fileName":null}"#).contains("must not be null"))
        let nested = message(#"{"name":"x","prevTagId":"p","bitMaskData":"0x1","totSize":1.5}"#)
        _ = nested
        do {
            _ = try WireJSON.decode(TagCreateRequest.self, from: Array(#"{"name":"x","prevTagId":"p","bitMaskData":"0x1","totSize":1.5}"#.utf8))
            Issue.record("fractional totSize accepted")
        } catch {
            #expect(WireJSON.describe(error).contains("totSize"))
        }
    }

    @Test func roundTripThroughFoundationCoders() throws {
        // The DTOs also work with Foundation's coders (the Swift client may use them).
        // (`changes` and `creator` are not encoded: see StrictFieldsTests.)
        let tag = TagData(id: "t", datasetId: "d", name: "n", bitMaskData: "0x1", totSize: 1, createdAt: 5)
        let data = try JSONEncoder().encode(tag)
        let back = try JSONDecoder().decode(TagData.self, from: data)
        #expect(back == tag)
        let ours = try WireJSON.decode(TagData.self, from: Array(data))
        #expect(ours == tag)
    }

    @Test func integersStayIntegers() throws {
        let v = try WireJSON.decode(JSONValue.self, from: Array(#"{"nSamples":100,"minDistance":-1,"f":1.0}"#.utf8))
        #expect(v.serialized() == #"{"nSamples":100,"minDistance":-1,"f":1.0}"#)
    }

    @Test func nestingIsBounded() throws {
        let ok = String(repeating: "[", count: JSONValue.maximumDepth) + String(repeating: "]", count: JSONValue.maximumDepth)
        #expect(throws: Never.self) { try JSONValue.parse(ok) }
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(deep) }
    }
}
