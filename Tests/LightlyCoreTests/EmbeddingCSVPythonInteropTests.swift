import Foundation
import Testing
@testable import LightlyCore

/// Compatibility with CPython's `csv` module (excel dialect), both directions.
@Suite(.enabled(if: Python.available, "needs python3"))
struct EmbeddingCSVPythonInteropTests {
    /// Python writes tricky filenames with `csv.writer` (`\r\n`, QUOTE_MINIMAL) and float32
    /// values with `str(np.float32)`-like text; we must read exactly what Python meant.
    @Test func readsWhatPythonsCSVWriterWrites() throws {
        let script = #"""
        import csv, io, json, random, struct
        random.seed(7)
        alphabet = ['a', 'b', ',', '"', '\n', '\r', ' ', 'é', '名', '.', '/', "'", ';']
        names, rows = set(), []
        while len(names) < 300:
            names.add(''.join(random.choice(alphabet) for _ in range(random.randint(1, 12))))
        names = sorted(names)
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(['filenames', 'embedding_0', 'embedding_1', 'labels'])
        expect = []
        for i, n in enumerate(names):
            vals = [struct.unpack('<f', struct.pack('<f', random.gauss(0, 10 ** random.randint(-8, 8))))[0] for _ in range(2)]
            w.writerow([n, repr(vals[0]), vals[1], i % 7])
            expect.append({'name': n, 'bits': [struct.unpack('<I', struct.pack('<f', v))[0] for v in vals], 'label': i % 7})
        print(json.dumps({'csv': buf.getvalue(), 'expect': expect}))
        """#
        let output = try #require(runPython(script, input: ""), "the python3 script failed")
        struct Row: Decodable { var name: String; var bits: [UInt32]; var label: Int }
        struct Payload: Decodable { var csv: String; var expect: [Row] }
        let payload = try JSONDecoder().decode(Payload.self, from: Data(output.utf8))
        let p = try EmbeddingCSV.parse(Array(payload.csv.utf8))
        #expect(p.filenames == payload.expect.map(\.name))
        #expect(p.values.map(\.bitPattern) == payload.expect.flatMap(\.bits))
        #expect(p.labels == payload.expect.map(\.label))
    }

    /// Python's `csv.reader` reads back exactly what we write.
    @Test func pythonsCSVReaderReadsWhatWeWrite() throws {
        var rng = TestRNG(seed: 77)
        let pieces = ["a", ",", "\"", "\n", "\r\n", " ", "é", "x.jpg"]
        var names = Set<String>()
        while names.count < 200 {
            names.insert((0..<(1 + Int(rng.next() % 6))).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined())
        }
        let filenames = names.sorted()
        let values = (0..<(filenames.count * 3)).map { _ in randomFiniteFloat(&rng) }
        let csv = EmbeddingCSV.write(filenames: filenames, values: values, dimension: 3, labels: filenames.indices.map { $0 })
        let script = #"""
        import csv, io, json, struct, sys
        data = sys.stdin.buffer.read().decode('utf-8')
        rows = list(csv.reader(io.StringIO(data, newline='')))
        out = {'header': rows[0], 'names': [r[0] for r in rows[1:]],
               'bits': [struct.unpack('<I', struct.pack('<f', float(v)))[0] for r in rows[1:] for v in r[1:4]],
               'labels': [int(r[4]) for r in rows[1:]]}
        print(json.dumps(out))
        """#
        let output = try #require(runPython(script, input: String(decoding: csv, as: UTF8.self)), "the python3 script failed")
        struct Out: Decodable { var header: [String]; var names: [String]; var bits: [UInt32]; var labels: [Int] }
        let out = try JSONDecoder().decode(Out.self, from: Data(output.utf8))
        #expect(out.header == ["filenames", "embedding_0", "embedding_1", "embedding_2", "labels"])
        #expect(out.names == filenames)
        #expect(out.bits == values.map(\.bitPattern))
        #expect(out.labels == Array(filenames.indices))
    }
}
