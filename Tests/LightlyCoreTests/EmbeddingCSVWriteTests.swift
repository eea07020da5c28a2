import Testing
@testable import LightlyCore

@Suite struct EmbeddingCSVWriteTests {
    @Test func writesSaveEmbeddingsFormat() {
        let csv = EmbeddingCSV.write(filenames: ["a.jpg", "b,c.jpg", "say \"hi\".jpg"],
                                     values: [0.5, -1, 1e-05, 0.1, 0, -0.0], dimension: 2, labels: [0, 1, -2])
        #expect(String(decoding: csv, as: UTF8.self) ==
                "filenames,embedding_0,embedding_1,labels\n" +
                "a.jpg,0.5,-1.0,0\n" +
                "\"b,c.jpg\",9.999999747378752e-06,0.10000000149011612,1\n" +
                "\"say \"\"hi\"\".jpg\",0.0,-0.0,-2\n")
        let noLabels = EmbeddingCSV.write(filenames: ["a"], values: [2], dimension: 1, labels: nil)
        #expect(String(decoding: noLabels, as: UTF8.self) == "filenames,embedding_0\na,2.0\n")
    }

    @Test func roundTripIsBitExact() throws {
        var rng = TestRNG(seed: 11)
        let n = 500, d = 33
        var values: [Float] = []
        for _ in 0..<(n * d) { values.append(randomFiniteFloat(&rng)) }
        let names = (0..<n).map { i in i % 7 == 0 ? "dir, \"\(i)\"\n.png" : "img_\(i).png" }
        let labels = (0..<n).map { $0 % 4 - 1 }
        let csv = EmbeddingCSV.write(filenames: names, values: values, dimension: d, labels: labels)
        let p = try EmbeddingCSV.parse(csv)
        #expect(p.filenames == names)
        #expect(p.labels == labels)
        #expect(p.dimension == d)
        #expect(p.values.map(\.bitPattern) == values.map(\.bitPattern))
        // And writing the parsed file gives the same bytes.
        #expect(p.csvBytes() == csv)
    }

    @Test func reorderToMapping() throws {
        let p = try EmbeddingCSV.parse("filenames,embedding_0,embedding_1,note,labels\nc,5,6,z,2\na,1,2,x,0\nb,3,4,y,1\n")
        let o = try p.reordered(toMapping: ["a", "b", "c"])
        #expect(o.filenames == ["a", "b", "c"])
        #expect(o.values == [1, 2, 3, 4, 5, 6])
        #expect(o.labels == [0, 1, 2])
        #expect(o.extraValues == [["x", "y", "z"]])
        #expect(String(decoding: o.csvBytes(), as: UTF8.self) ==
                "filenames,embedding_0,embedding_1,note,labels\na,1.0,2.0,x,0\nb,3.0,4.0,y,1\nc,5.0,6.0,z,2\n")
        // Identity: nothing to do (and an empty dataset just uses p.filenames).
        #expect(try p.reordered(toMapping: ["c", "a", "b"]) == p)
    }

    @Test func reorderMismatchNamesFirstUnknownAndMissing() throws {
        let p = try EmbeddingCSV.parse("filenames,embedding_0\nc,5\na,1\nb,3\n")
        do {
            _ = try p.reordered(toMapping: ["a", "b", "d", "e"])
            Issue.record("expected a mismatch")
        } catch {
            #expect(error.kind == .mappingMismatch)
            #expect(error.code == "EMBEDDING_CSV_MISMATCH")
            #expect(error.message == "embedding CSV does not match the dataset: the CSV has 3 rows, the dataset has 4 samples; " +
                    "1 CSV filename(s) are not samples of the dataset (first: \"c\" in row 1); " +
                    "2 sample(s) have no row in the CSV (first: \"d\")")
        }
        // Same count, one name swapped.
        #expect(throws: EmbeddingCSVError.self) { try p.reordered(toMapping: ["a", "b", "x"]) }
        // Same count, a sample listed twice.
        do {
            _ = try p.reordered(toMapping: ["a", "b", "a"])
            Issue.record("expected a mismatch")
        } catch {
            #expect(error.message.contains("more than once"))
        }
    }
}
