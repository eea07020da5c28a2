import Testing
@testable import LightlyCore

/// `EmbeddingCSV.parseStream` must be `parse` read through a window: the same rows, or the
/// same first error (kind, row, line, message), whatever the window size, the read sizes and
/// the threads.
@Suite struct EmbeddingCSVStreamTests {
    struct Outcome: Equatable {
        var parsed: ParsedEmbeddingCSV?
        var error: EmbeddingCSVError?
        var batches = 0
        var largestBatch = 0
    }

    /// Streams `bytes` in reads of 1…`maxRead` bytes and reassembles the batches.
    static func stream(_ bytes: [UInt8], window: Int, threads: Int = 1, minParallelBytes: Int = 0,
                       maxRead: Int = 1 << 20, seed: UInt64 = 1) -> Outcome {
        var rng = TestRNG(seed: seed)
        var offset = 0
        var header: EmbeddingCSVHeader? = nil
        var names: [String] = [], values: [Float] = [], labels: [Int] = [], extra: [[String]] = []
        var out = Outcome()
        var seen: [String: Int] = [:]
        do {
            let n = try EmbeddingCSV.parseStream(
                limits: .default, threads: threads, windowBytes: window, minParallelBytes: minParallelBytes, seen: &seen,
                read: { buf in
                    let k = min(buf.count, bytes.count - offset, 1 + Int(rng.next() % UInt64(maxRead)))
                    for i in 0 ..< k { buf[i] = bytes[offset + i] }
                    offset += k
                    return k
                },
                header: { h in header = h; extra = Array(repeating: [], count: h.extraColumns.count) },
                rows: { b in
                    #expect(b.firstRow == names.count + 1)
                    out.batches += 1
                    out.largestBatch = max(out.largestBatch, b.count)
                    names += b.filenames; values += b.values; labels += b.labels
                    for c in extra.indices { extra[c] += b.extraValues[c] }
                })
            #expect(n == names.count)
            guard let h = header else { return out }
            out.parsed = ParsedEmbeddingCSV(filenames: names, dimension: h.embeddingColumns.count, values: values,
                                            labels: h.labelColumn == nil ? nil : labels, header: h, extraValues: extra)
        } catch let e as EmbeddingCSVError {
            out.error = e
        } catch {
            Issue.record("unexpected error \(error)")
        }
        return out
    }

    static func reference(_ bytes: [UInt8]) -> Outcome {
        do throws(EmbeddingCSVError) {
            return Outcome(parsed: try EmbeddingCSV.parse(bytes, threads: 1, minParallelBytes: 0))
        } catch {
            return Outcome(error: error)
        }
    }

    static func same(_ a: Outcome, _ b: Outcome) -> Bool { a.parsed == b.parsed && a.error == b.error }

    @Test(arguments: [16, 64, 257, 4096, 1 << 20])
    func windowsEqualWholeParse(window: Int) {
        let text = Array(EmbeddingCSVParseTests.bigQuotedCSV(rows: 600, seed: 3).utf8)
        let ref = Self.reference(text)
        #expect(ref.parsed?.rowCount == 600)
        for threads in [1, 2, 3] {
            #expect(Self.same(Self.stream(text, window: window, threads: threads, maxRead: 37), ref))
        }
    }

    @Test func memoryIsBoundedByTheWindow() {
        // 2000 rows of ~60 bytes through a 4 KiB window: many small batches, never the file.
        let text = Array(EmbeddingCSVParseTests.bigQuotedCSV(rows: 2000, seed: 5).utf8)
        let out = Self.stream(text, window: 4096, threads: 2)
        #expect(out.parsed?.rowCount == 2000)
        #expect(out.batches > 20)
        #expect(out.largestBatch <= 4096 / 10)
    }

    @Test func errorsNearTheEndAreTheWholeParseErrors() {
        let base = EmbeddingCSVParseTests.bigQuotedCSV(rows: 800, seed: 11)
        let tails = ["f1.jpg,1,2,3,4\n", "z.jpg,1,x,3,4\n", "z.jpg,1,2,3\n", "z.jpg,1,2,3,4,5\n", "z.jpg,1,inf,3,4\n",
                     "z.jpg,1,2,3,4\n\nw.jpg,1,2,3,4\n", "z.jpg,1,2,3,4\n\n\n\r\n", "\"z.jpg,1,2,3,4\n", "z.jpg,1,2,3,4\rw"]
        for tail in tails {
            let bytes = Array((base + tail).utf8)
            let ref = Self.reference(bytes)
            for window in [16, 100, 8192] {
                for threads in [1, 2] {
                    let got = Self.stream(bytes, window: window, threads: threads, maxRead: 513)
                    #expect(Self.same(got, ref), "tail \(tail.debugDescription), window \(window), threads \(threads): \(String(describing: got.error)) vs \(String(describing: ref.error))")
                }
            }
        }
    }

    @Test func fuzzEqualsWholeParse() {
        var rng = TestRNG(seed: 77)
        let seeds = [Array(EmbeddingCSVParseTests.lightlyFile.utf8), Array(EmbeddingCSVParseTests.bigQuotedCSV(rows: 40, seed: 1).utf8),
                     Array("labels,embedding_1,note,filenames,embedding_0\n7,2.5,\"x, y\",a.png,1.5\n".utf8),
                     Array("\u{FEFF}filenames,embedding_0\n\n\na,1\n".utf8), Array("\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n".utf8)]
        let alphabet = Array(",\"\r\n0123456789.e-+ainfx_\u{FF}".utf8)
        for iteration in 0 ..< 5000 {
            var bytes = seeds[iteration % seeds.count]
            for _ in 0 ..< (1 + Int(rng.next() % 4)) {
                guard !bytes.isEmpty else { break }
                let at = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 4 {
                case 0: bytes[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                case 1: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                case 2: bytes.remove(at: at)
                default: bytes[at] = UInt8(truncatingIfNeeded: rng.next())
                }
            }
            let ref = Self.reference(bytes)
            let got = Self.stream(bytes, window: 16 + Int(rng.next() % 64), threads: 1 + iteration % 2,
                                  maxRead: 1 + Int(rng.next() % 40), seed: UInt64(iteration))
            #expect(Self.same(got, ref), "\(String(decoding: bytes, as: UTF8.self).debugDescription): \(String(describing: got.error)) vs \(String(describing: ref.error))")
        }
    }
}
