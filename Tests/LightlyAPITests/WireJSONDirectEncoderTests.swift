#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LightlyCore
@testable import LightlyWire
import Testing

/// `WireJSON.encode` writes bytes directly (`DirectJSONEncoder`); these tests pin that its output
/// is byte for byte the tree path's (`JSONValueEncoder` + `JSONValue.serializedBytes`), for every
/// wire type the server answers with, edge-case strings and numbers, and random values.
@Suite struct WireJSONDirectEncoderTests {
    static let strings = [
        "", "plain", "quote \" here", "back\\slash \\\\ \\\"", "slash / and </script>",
        "ctl \u{0}\u{1}\u{7}\u{8}\u{9}\u{a}\u{b}\u{c}\u{d}\u{1b}\u{1f} del \u{7f}",
        "é ü ß 日本語 Ω", "emoji 😀👍🏽🇨🇭", "line sep \u{2028}\u{2029}", "\"", "\\", "\n",
    ]
    static let ints = [0, 1, -1, 42, -9_876_543_210, Int.max, Int.min, 1_765_000_000_000]
    static let doubles: [Double] = [
        0, -0.0, 0.1, -2.5, 100.0, 1e300, -1e300, 1e-300, 5e-324, 1.7976931348623157e308,
        0.8299317261466008, 1e-05, 123456789.123, -1.0 / 3.0,
    ]
    static let floats: [Float] = [0, -0.0, 0.1, -2.5, 1e30, -3.4028235e38, 1.17549435e-38, 0.333333]

    /// Both paths' bytes, and that the direct one did not hand over to the tree.
    func expectSameBytes<T: Encodable>(_ value: T, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let tree = try JSONValueEncoder().encodeTree(value).serializedBytes()
        let direct = try #require(try DirectJSONEncoder.encode(value), "direct encoder gave up", sourceLocation: sourceLocation)
        #expect(String(decoding: direct, as: UTF8.self) == String(decoding: tree, as: UTF8.self), sourceLocation: sourceLocation)
        #expect(direct == tree, sourceLocation: sourceLocation)
        #expect(try WireJSON.encode(value) == tree, sourceLocation: sourceLocation)
    }

    static func freeForm(_ s: String, _ i: Int, _ d: Double) -> JSONValue {
        .object(JSONObject(members: [
            .init(key: s, value: .string(s)), .init(key: "i", value: .integer(Int64(i))),
            .init(key: "d", value: .double(d)), .init(key: "dup", value: .bool(true)),
            .init(key: "dup", value: .null), .init(key: "empty", value: [:]),
            .init(key: "list", value: [.integer(Int64.min), .double(-0.0), .array([]), .string(s)]),
        ]))
    }

    static func dataset(_ s: String, _ i: Int, nilOptionals: Bool) -> DatasetData {
        DatasetData(id: s, name: s, userId: s, type: DatasetType(rawValue: s), imgType: nilOptionals ? nil : .full,
                    nSamples: i, sizeInBytes: i, metaDataConfigurationId: nilOptionals ? nil : s,
                    createdAt: Int64(i), lastModifiedAt: Int64(i))
    }

    static func sample(_ s: String, _ i: Int, _ d: Double, nilOptionals: Bool) -> SampleData {
        nilOptionals
            ? SampleData(id: s, fileName: s)
            : SampleData(id: s, type: SampleType(rawValue: s), datasetId: s, fileName: s, thumbName: s,
                         exif: freeForm(s, i, d), metaData: freeForm(s, i, d), customMetaData: .array([.string(s), .double(d)]),
                         index: i, createdAt: Int64(i), lastModifiedAt: Int64(i))
    }

    static func tag(_ s: String, _ i: Int, nilOptionals: Bool) -> TagData {
        TagData(id: s, datasetId: s, prevTagId: nilOptionals ? nil : s, queryTagId: nilOptionals ? nil : s,
                preselectedTagId: nilOptionals ? nil : s, name: s, bitMaskData: "0x\(s)", totSize: i,
                creator: nilOptionals ? nil : .userPip, createdAt: Int64(i), lastModifiedAt: nilOptionals ? nil : Int64(i),
                changes: nilOptionals ? nil : .array([.string(s)]))
    }

    @Test(arguments: [false, true])
    func everyResponseTypeMatchesTheTreePath(nilOptionals: Bool) throws {
        for (n, s) in Self.strings.enumerated() {
            let i = Self.ints[n % Self.ints.count]
            let d = Self.doubles[n % Self.doubles.count]
            let sample = Self.sample(s, i, d, nilOptionals: nilOptionals)
            let datasets = Self.ints.map { Self.dataset(s, $0, nilOptionals: nilOptionals) }
            try expectSameBytes(datasets)
            try expectSameBytes(datasets.map { DatasetDataEnriched($0, samples: [s, s, ""], nTags: i, nEmbeddings: i) })
            try expectSameBytes(DatasetDataEnriched(datasets[0], samples: [], nTags: 0, nEmbeddings: 0))
            try expectSameBytes(CreateEntityResponse(id: s))
            try expectSameBytes(sample)
            try expectSameBytes([sample, sample.strictMetaData])
            for mode in [SamplePartialMode.ids, .fileNames, .full] { try expectSameBytes(SampleDataModes(sample, mode: mode)) }
            try expectSameBytes(SampleWriteUrls(full: s, thumb: s))
            try expectSameBytes(Self.ints.map { Self.tag(s, $0, nilOptionals: nilOptionals) })
            try expectSameBytes(TagBitMaskResponse(bitMaskData: s))
            try expectSameBytes(TagArithmeticsResponse(bitMaskData: s, id: s))
            try expectSameBytes([LabelStudioTask(id: i, data: LabelStudioTaskData(
                image: s, lightlyFileName: nilOptionals ? nil : s, lightlyMetaInfo: nilOptionals ? nil : sample))])
            try expectSameBytes([LabelBoxDataRow(externalId: s, imageUrl: s)])
            try expectSameBytes([LabelBoxV4DataRow(rowData: s, globalKey: nilOptionals ? nil : s, mediaType: nilOptionals ? nil : s)])
            try expectSameBytes([FilenameAndReadUrl(fileName: s, readUrl: s)])
            let meta = JobStatusMeta(total: i, processed: i, uploadMethod: nilOptionals ? nil : JobStatusUploadMethod(rawValue: s),
                                     isRegistered: nilOptionals ? nil : n % 2 == 0)
            try expectSameBytes(JobStatusData(id: s, status: .finished, meta: nilOptionals ? nil : meta, waitTimeTillNextPoll: i,
                                              createdAt: Int64(i), finishedAt: nilOptionals ? nil : Int64(i),
                                              error: nilOptionals ? nil : s,
                                              result: nilOptionals ? nil : JobStatusDataResult(type: .sampling, data: s)))
            try expectSameBytes(JobStatusDataResult(type: JobResultType(rawValue: s), data: nil))
            try expectSameBytes([JobsData(id: s, jobId: s, jobType: .sampling, status: .running,
                                          finishedAt: nilOptionals ? nil : Int64(i), createdAt: Int64(i))])
            try expectSameBytes(AsyncTaskData(jobId: s))
            try expectSameBytes(ActiveLearningScoreData(id: s, tagId: s, scoreType: s, scores: Self.doubles, createdAt: Int64(i)))
            try expectSameBytes([TagActiveLearningScoresData(id: s, tagId: s, scoreType: s, createdAt: Int64(i))])
            try expectSameBytes([DatasetEmbeddingData(id: s, name: s, isProcessed: n % 2 == 1, createdAt: Int64(i),
                                                      is2d: nilOptionals ? nil : true)])
            try expectSameBytes(WriteCSVUrlData(signedWriteUrl: s, embeddingId: s))
            try expectSameBytes([Embedding2dData(id: s, datasetId: s, embeddingId: s, name: s, createdAt: Int64(i),
                                                 dimensionalityReductionMethod: s, computedWith: nilOptionals ? nil : s,
                                                 coordinatesDimension1: Self.floats, coordinatesDimension2: Self.floats.reversed())])
            try expectSameBytes([SharedAccessConfigData(id: s, owner: s, accessType: s, users: [s, s], teams: nilOptionals ? [] : [s],
                                                        organizations: nilOptionals ? nil : [s], createdAt: Int64(i),
                                                        lastModifiedAt: Int64(i))])
            try expectSameBytes(ApiErrorResponse(code: ApiErrorCode(rawValue: s), message: s))
            try expectSameBytes(HealthResponse(status: s))
            try expectSameBytes(LegacyQuotaResponse(maxDatasetSize: i))
            try expectSameBytes(Self.freeForm(s, i, d))
        }
    }

    @Test func primitivesAndStandardLibraryShapes() throws {
        for d in Self.doubles { try expectSameBytes(d); try expectSameBytes([d]); try expectSameBytes(["k": d]) }
        for f in Self.floats { try expectSameBytes(f); try expectSameBytes([f]); try expectSameBytes(["k": f]) }
        for i in Self.ints { try expectSameBytes(i); try expectSameBytes([Int64(i)]); try expectSameBytes(["k": i]) }
        try expectSameBytes([Int8.min, Int8.max]); try expectSameBytes([UInt8.max]); try expectSameBytes([UInt64(Int64.max)])
        try expectSameBytes([Int16(-3)]); try expectSameBytes([UInt32.max]); try expectSameBytes([UInt(7)])
        try expectSameBytes(Self.strings)
        try expectSameBytes(Optional<Int>.none)
        try expectSameBytes([1, nil, 3] as [Int?])
        try expectSameBytes([[String]]([[], ["a"], []]))
        try expectSameBytes([String: [Int]]())
        try expectSameBytes([true, false])
        try expectSameBytes(JSONValue.double(.nan))   // a stored non-finite double is written as null
        try expectSameBytes(Nothing())
        try expectSameBytes([Nothing(), Nothing()])
    }

    /// Encodes nothing at all: the tree path writes `{}`.
    struct Nothing: Encodable { func encode(to encoder: any Encoder) throws {} }

    /// Hands out a nested container and writes the parent afterwards: only the tree gets this
    /// right, so the direct encoder gives up and `WireJSON.encode` takes the tree path.
    struct EarlyNested: Encodable {
        enum K: String, CodingKey { case a, b, x }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: K.self)
            var n = c.nestedContainer(keyedBy: K.self, forKey: .a)
            try c.encode(1, forKey: .b)
            try n.encode("late", forKey: .x)
        }
    }

    /// Writes two values through one single-value container: the tree keeps the last.
    struct TwoValues: Encodable {
        func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(1)
            try c.encode("second")
        }
    }

    @Test func shapesOnlyTheTreeReproducesFallBackToIt() throws {
        for value in [EarlyNested() as any Encodable, TwoValues(), [EarlyNested()], ["k": TwoValues()]] {
            #expect(try DirectJSONEncoder.encode(value) == nil)
            #expect(try WireJSON.encode(value) == JSONValueEncoder().encodeTree(value).serializedBytes())
        }
        #expect(String(decoding: try WireJSON.encode(EarlyNested()), as: UTF8.self) == #"{"a":{"x":"late"},"b":1}"#)
    }

    @Test func nonFiniteAndOutOfRangeNumbersAreRefused() {
        for bad in [Double.nan, .infinity, -.infinity] {
            #expect(throws: EncodingError.self) { try WireJSON.encode(["k": bad]) }
            #expect(throws: EncodingError.self) { try WireJSON.encode([bad]) }
            #expect(throws: EncodingError.self) { try WireJSON.encode(bad) }
        }
        #expect(throws: EncodingError.self) { try WireJSON.encode([Float.nan]) }
        #expect(throws: EncodingError.self) { try WireJSON.encode(["k": UInt64.max]) }
        #expect(throws: EncodingError.self) { try WireJSON.encode(UInt(UInt64(Int64.max) + 1)) }
    }

    /// The string escaping as it was written before the serialiser copied unescaped runs in one
    /// piece: byte by byte.
    static func referenceEscaped(_ s: String) -> [UInt8] {
        var out: [UInt8] = [0x22]
        let hex = Array("0123456789abcdef".utf8)
        for c in s.utf8 {
            switch c {
            case 0x22: out += [0x5c, 0x22]
            case 0x5c: out += [0x5c, 0x5c]
            case 0x0a: out += [0x5c, UInt8(ascii: "n")]
            case 0x0d: out += [0x5c, UInt8(ascii: "r")]
            case 0x09: out += [0x5c, UInt8(ascii: "t")]
            case 0x08: out += [0x5c, UInt8(ascii: "b")]
            case 0x0c: out += [0x5c, UInt8(ascii: "f")]
            case 0..<0x20: out += [0x5c, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 0xf)]]
            default: out.append(c)
            }
        }
        out.append(0x22)
        return out
    }

    // MARK: - Random values

    typealias SeededGenerator = Xoshiro256StarStar

    static let alphabet: [Character] = Array("aZ09 _-/\"\\\u{0}\u{1}\u{8}\u{9}\u{a}\u{c}\u{d}\u{1f}\u{7f}éß日😀👍🏽\u{2028}")

    static func randomString(_ g: inout SeededGenerator) -> String {
        String((0..<Int.random(in: 0...12, using: &g)).map { _ in alphabet.randomElement(using: &g) ?? "a" })
    }

    static func randomDouble(_ g: inout SeededGenerator) -> Double {
        switch Int.random(in: 0..<4, using: &g) {
        case 0: return doubles.randomElement(using: &g) ?? 0
        case 1: return Double.random(in: -1e6...1e6, using: &g)
        case 2: return Double(bitPattern: g.next() & ~(0x7FF << 52) | (UInt64.random(in: 1...0x7FE, using: &g) << 52))
        default: return Double(Int.random(in: -1000...1000, using: &g))
        }
    }

    static func randomValue(_ g: inout SeededGenerator, depth: Int) -> JSONValue {
        switch Int.random(in: 0..<(depth < 4 ? 7 : 5), using: &g) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &g))
        case 2: return .integer(Int64(bitPattern: g.next()) >> Int64.random(in: 0...63, using: &g))
        case 3: return .double(randomDouble(&g))
        case 4: return .string(randomString(&g))
        case 5: return .array((0..<Int.random(in: 0...4, using: &g)).map { _ in randomValue(&g, depth: depth + 1) })
        default:
            return .object(JSONObject(members: (0..<Int.random(in: 0...4, using: &g)).map { _ in
                .init(key: randomString(&g), value: randomValue(&g, depth: depth + 1))
            }))
        }
    }

    @Test func randomValuesMatchTheTreePath() throws {
        var g = SeededGenerator(seed: 0x5EED_1616)   // seeded, so a failure replays
        for _ in 0..<400 {
            let s = Self.randomString(&g)
            #expect(Array(JSONValue.string(s).serializedBytes()) == Self.referenceEscaped(s))
            let i = Int(truncatingIfNeeded: g.next()) >> Int.random(in: 0...63, using: &g)
            let nils = Bool.random(using: &g)
            var sample = Self.sample(s, i, Self.randomDouble(&g), nilOptionals: nils)
            if !nils { sample.metaData = Self.randomValue(&g, depth: 0) }
            try expectSameBytes(sample)
            try expectSameBytes(Self.dataset(s, i, nilOptionals: nils))
            try expectSameBytes(Self.tag(s, i, nilOptionals: nils))
            try expectSameBytes(Self.randomValue(&g, depth: 0))
            try expectSameBytes(ActiveLearningScoreData(id: s, tagId: s, scoreType: s,
                                                        scores: (0..<5).map { _ in Self.randomDouble(&g) }, createdAt: Int64(i)))
            let floats = (0..<3).map { _ in Float(Self.randomDouble(&g)) }.filter(\.isFinite)
            try expectSameBytes(Embedding2dData(id: s, datasetId: s, embeddingId: s, name: s, createdAt: 0,
                                                dimensionalityReductionMethod: "PCA", coordinatesDimension1: floats,
                                                coordinatesDimension2: floats))
        }
    }
}
