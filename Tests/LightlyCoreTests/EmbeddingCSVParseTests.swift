import Testing
@testable import LightlyCore

extension EmbeddingCSV {
    /// Test helper: parse a string.
    static func parse(_ text: String, limits: Limits = .default, threads: Int = 1,
                      minParallelBytes: Int = 0) throws(EmbeddingCSVError) -> ParsedEmbeddingCSV {
        try parse(Array(text.utf8), limits: limits, threads: threads, minParallelBytes: minParallelBytes)
    }
}

/// The error a parse throws (fails the test if it succeeds).
func parseError(_ text: String, limits: EmbeddingCSV.Limits = .default,
                sourceLocation: SourceLocation = #_sourceLocation) -> EmbeddingCSVError? {
    do {
        _ = try EmbeddingCSV.parse(text, limits: limits)
        Issue.record("expected an error for \(text.debugDescription)", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

@Suite struct EmbeddingCSVParseTests {
    static let lightlyFile =
        "filenames,embedding_0,embedding_1,labels\r\n" +
        "img_1.jpg,-0.4913,1e-05,0\r\n" +
        "img_0.jpg,0.25,3.0,2\r\n"

    @Test func savedByLightly() throws {
        let p = try EmbeddingCSV.parse(Self.lightlyFile)
        #expect(p.filenames == ["img_1.jpg", "img_0.jpg"])
        #expect(p.dimension == 2)
        #expect(p.values == [-0.4913, 1e-05, 0.25, 3.0])
        #expect(p.labels == [0, 2])
        #expect(p.header.names == ["filenames", "embedding_0", "embedding_1", "labels"])
        #expect(p.extraValues.isEmpty)
    }

    @Test(arguments: [
        "filenames,embedding_0,embedding_1,labels\na,1,2,0\nb,3,4,1\n",          // LF
        "filenames,embedding_0,embedding_1,labels\r\na,1,2,0\nb,3,4,1\r\n",      // mixed
        "filenames,embedding_0,embedding_1,labels\na,1,2,0\nb,3,4,1",            // no final newline
        "\u{FEFF}filenames,embedding_0,embedding_1,labels\na,1,2,0\nb,3,4,1\n",  // BOM
        "filenames,embedding_0,embedding_1,labels\na,1,2,0\nb,3,4,1\n\n\r\n\n",  // trailing empty lines
        "filenames,embedding_0,embedding_1,labels\n\"a\",\"1\",2,\"0\"\nb,3,4,1\n", // needless quotes
    ])
    func lineEndingsQuotesAndBOM(_ text: String) throws {
        let p = try EmbeddingCSV.parse(text)
        #expect(p.filenames == ["a", "b"])
        #expect(p.values == [1, 2, 3, 4])
        #expect(p.labels == [0, 1])
    }

    @Test func columnsFoundByNameInAnyOrder() throws {
        let text = "labels,embedding_1,note,filenames,embedding_0\n" +
                   "7,2.5,\"x, y\",a.png,1.5\n" +
                   "8,4.5,z,b.png,3.5\n"
        let p = try EmbeddingCSV.parse(text)
        #expect(p.values == [1.5, 2.5, 3.5, 4.5])        // ordered by k, not by position
        #expect(p.labels == [7, 8])
        #expect(p.header.embeddingColumns == [4, 1])
        #expect(p.header.extraColumns == [2])
        #expect(p.extraValues == [["x, y", "z"]])
        // Re-emission keeps the header and the extra column.
        #expect(String(decoding: p.csvBytes(), as: UTF8.self) ==
                "labels,embedding_1,note,filenames,embedding_0\n7,2.5,\"x, y\",a.png,1.5\n8,4.5,z,b.png,3.5\n")
    }

    @Test func embeddingIndicesNeedNotBeContiguousAndLabelsAreOptional() throws {
        let p = try EmbeddingCSV.parse("filenames,embedding_5,embedding_2\na,1,2\n")
        #expect(p.dimension == 2)
        #expect(p.values == [2, 1])
        #expect(p.labels == nil)
    }

    @Test func quotedFilenamesWithCommasNewlinesAndQuotes() throws {
        let text = "filenames,embedding_0\n\"a,b.jpg\",1\n\"line\nbreak \"\"q\"\".jpg\",2\r\n\"crlf\r\nin.jpg\",3\n"
        let p = try EmbeddingCSV.parse(text)
        #expect(p.filenames == ["a,b.jpg", "line\nbreak \"q\".jpg", "crlf\r\nin.jpg"])
        let again = try EmbeddingCSV.parse(String(decoding: p.csvBytes(), as: UTF8.self))
        #expect(again.filenames == p.filenames)
        #expect(try EmbeddingCSV.parse("filenames,embedding_0\nü/名前.jpg,1\n").filenames == ["ü/名前.jpg"])
    }

    @Test func headerOnlyIsZeroRows() throws {
        let p = try EmbeddingCSV.parse("filenames,embedding_0,labels\n")
        #expect(p.rowCount == 0)
        #expect(p.dimension == 1)
    }

    // MARK: Errors

    @Test func errorNamesRowLineAndColumn() {
        let e = parseError("filenames,embedding_0,embedding_1\na,1,2\nb,3,abc\n")
        #expect(e?.kind == .number)
        #expect(e?.row == 2)
        #expect(e?.line == 3)
        #expect(e?.message == "row 2 (line 3): column embedding_1: \"abc\" is not a number")
        #expect(e?.code == "EMBEDDING_CSV_INVALID")
    }

    @Test func lineNumbersCountQuotedNewlines() {
        let e = parseError("filenames,embedding_0\n\"a\nb\",1\nc,x\n")
        #expect(e?.row == 2)
        #expect(e?.line == 4)
    }

    @Test(arguments: ["inf", "-inf", "nan", "NaN", "Infinity", "1e39", "-1e400"])
    func nonFiniteRejected(_ value: String) {
        let e = parseError("filenames,embedding_0\na,\(value)\n")
        #expect(e?.kind == .nonFinite)
        #expect(e?.message.contains("not finite") == true || e?.message.contains("not a finite") == true)
    }

    @Test func errorKinds() {
        let cases: [(String, EmbeddingCSVError.Kind)] = [
            ("", .empty),
            ("\u{FEFF}", .empty),
            ("\n\n", .empty),
            ("embedding_0\n1\n", .header),                               // no filenames
            ("filenames,labels\na,1\n", .header),                        // no embedding columns
            ("filenames,filenames,embedding_0\na,b,1\n", .header),
            ("filenames,embedding_0,embedding_0\na,1,2\n", .header),
            ("filenames,embedding_01\na,1\n", .header),
            ("filenames,embedding_0\na,1,2\n", .columnCount),            // too many
            ("filenames,embedding_0,embedding_1\na,1\n", .columnCount),   // too few
            ("filenames,embedding_0\na,1\n\nb,2\n", .columnCount),        // empty line inside
            ("filenames,embedding_0\na,\n", .number),                     // empty value
            ("filenames,embedding_0\na, 1\n", .number),
            ("filenames,embedding_0\n,1\n", .filename),
            ("filenames,embedding_0\n\"\",1\n", .filename),
            ("filenames,embedding_0,labels\na,1,x\n", .label),
            ("filenames,embedding_0,labels\na,1,1.0\n", .label),
            ("filenames,embedding_0,labels\na,1,99999999999999999999\n", .label),
            ("filenames,embedding_0\n\"a,1\n", .quoting),                // unterminated
            ("filenames,embedding_0\n\"a\"b,1\n", .quoting),             // junk after quote
            ("filenames,embedding_0\na\"b,1\n", .quoting),               // bare quote
            ("filenames,embedding_0\na,1\rb,2\n", .quoting),             // bare CR
        ]
        for (text, kind) in cases {
            let e = parseError(text)
            #expect(e?.kind == kind, "\(text.debugDescription): \(e?.message ?? "no error")")
        }
        // Invalid UTF-8 in a filename (bytes, not a Swift string).
        var bytes = Array("filenames,embedding_0\n".utf8)
        bytes += [0xC3, 0x28] + Array(",1\n".utf8)
        #expect(throws: EmbeddingCSVError.self) { try EmbeddingCSV.parse(bytes) }
    }

    @Test func duplicateFilenameNamesBothRows() {
        let e = parseError("filenames,embedding_0\na,1\nb,2\na,3\n")
        #expect(e?.kind == .duplicateFilename)
        #expect(e?.row == 3)
        #expect(e?.message == "row 3 (line 4): duplicate filename \"a\" (also in row 1)")
    }

    @Test func limits() {
        var limits = EmbeddingCSV.Limits()
        limits.maxRows = 2
        #expect(parseError("filenames,embedding_0\na,1\nb,2\nc,3\n", limits: limits)?.kind == .limit)
        limits = EmbeddingCSV.Limits(maxDimension: 2)
        #expect(parseError("filenames,embedding_0,embedding_1,embedding_2\na,1,2,3\n", limits: limits)?.kind == .limit)
        #expect(parseError("filenames,embedding_7\na,1\n", limits: limits)?.kind == .limit)
        limits = EmbeddingCSV.Limits(maxColumns: 3)
        #expect(parseError("filenames,embedding_0,x,y\na,1,2,3\n", limits: limits)?.kind == .limit)
        limits = EmbeddingCSV.Limits(maxFieldLength: 8)
        #expect(parseError("filenames,embedding_0\nabcdefghi,1\n", limits: limits)?.kind == .limit)
        #expect(parseError("filenames,embedding_0\na,1.000000000\n", limits: limits)?.kind == .limit)
        limits = EmbeddingCSV.Limits(maxValues: 3)
        #expect(parseError("filenames,embedding_0,embedding_1\na,1,2\nb,3,4\n", limits: limits)?.kind == .limit)
    }

    // MARK: Parallel parse

    static func bigQuotedCSV(rows: Int, seed: UInt64) -> String {
        var rng = TestRNG(seed: seed)
        var s = "filenames,embedding_0,embedding_1,embedding_2,labels\r\n"
        for i in 0..<rows {
            let name = rng.next() % 5 == 0 ? "\"q,\n\"\"\(i)\"\"\r\n.jpg\"" : "f\(i).jpg"
            s += "\(name),\(randomFiniteFloat(&rng).magnitude.squareRoot() / 1e17),\(Double(i) / 7),-\(i % 3)e-2,\(i % 5)"
            s += rng.next() % 2 == 0 ? "\n" : "\r\n"
        }
        return s
    }

    @Test(arguments: [2, 3, 4, 7])
    func parallelEqualsSequential(threads: Int) throws {
        let text = Self.bigQuotedCSV(rows: 3000, seed: UInt64(threads))
        let sequential = try EmbeddingCSV.parse(text)
        let parallel = try EmbeddingCSV.parse(text, threads: threads, minParallelBytes: 0)
        #expect(sequential == parallel)
        #expect(sequential.rowCount == 3000)
    }

    @Test func parallelReportsTheSequentialError() {
        var text = Self.bigQuotedCSV(rows: 3000, seed: 9)
        text += "f1.jpg,1,2,3,4\n"                                  // duplicate of row 2
        for threads in [1, 2, 4] {
            do {
                _ = try EmbeddingCSV.parse(text, threads: threads, minParallelBytes: 0)
                Issue.record("expected a duplicate error")
            } catch {
                #expect(error.kind == .duplicateFilename)
                #expect(error.row == 3001)
            }
        }
    }

    // MARK: Fuzz

    /// Random mutations of valid files must produce a result or an error, never a trap, and
    /// every accepted result must satisfy the invariants.
    @Test func fuzzMutationsNeverTrap() {
        var rng = TestRNG(seed: 42)
        let seeds = [Array(Self.lightlyFile.utf8), Array(Self.bigQuotedCSV(rows: 40, seed: 1).utf8),
                     Array("labels,embedding_1,note,filenames,embedding_0\n7,2.5,\"x, y\",a.png,1.5\n".utf8)]
        let alphabet = Array(",\"\r\n0123456789.e-+ainfx_\u{FF}".utf8)
        var accepted = 0
        for iteration in 0..<20_000 {
            var bytes = seeds[iteration % seeds.count]
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                guard !bytes.isEmpty else { break }
                let at = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 5 {
                case 0: bytes[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                case 1: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                case 2: bytes.remove(at: at)
                case 3: bytes[at] = UInt8(truncatingIfNeeded: rng.next())
                default:
                    let len = min(bytes.count - at, Int(rng.next() % 20))
                    bytes.insert(contentsOf: bytes[at..<(at + len)], at: Int(rng.next() % UInt64(bytes.count)))
                }
            }
            let threads = iteration % 3 == 0 ? 2 : 1
            if threads > 1 {
                // The parallel parse promises the sequential result or the same error.
                let seq = Result { () throws(EmbeddingCSVError) in try EmbeddingCSV.parse(bytes, threads: 1, minParallelBytes: 0) }
                let par = Result { () throws(EmbeddingCSVError) in try EmbeddingCSV.parse(bytes, threads: 3, minParallelBytes: 0) }
                #expect(seq == par)
            }
            do {
                let p = try EmbeddingCSV.parse(bytes, threads: threads, minParallelBytes: 0)
                accepted += 1
                #expect(p.values.count == p.rowCount * p.dimension)
                #expect(p.values.allSatisfy { $0.isFinite })
                #expect(Set(p.filenames).count == p.rowCount)
                #expect(!p.filenames.contains(""))
                // Whatever we accept, we can write and read back identically.
                let again = try EmbeddingCSV.parse(p.csvBytes())
                #expect(again.filenames == p.filenames)
                #expect(again.values.map(\.bitPattern) == p.values.map(\.bitPattern))
            } catch {
                #expect(!error.message.isEmpty)
            }
        }
        #expect(accepted > 100)
    }
}
