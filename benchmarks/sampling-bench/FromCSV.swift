// sampling-bench --csv FILE: the in-process reference of benchmarks/job (the server's job time
// against the sampler's own time on the same data). Parses an embedding CSV with the server's
// parser, runs CORESET k with the server's defaults (all cores, lazy steps) `repeats` times,
// and prints the median time, the sampler's counters and (with --picks-out) the picks.
import Foundation
import LightlyCore

struct CSVBenchOptions {
    var path = ""
    var k = 1000
    var repeats = 3
    var picksOut: String? = nil
}

func runCSVBench(_ o: CSVBenchOptions) {
    let t0 = now()
    guard let data = FileManager.default.contents(atPath: o.path) else {
        print("cannot read \(o.path)")
        exit(1)
    }
    let parsed: ParsedEmbeddingCSV
    do {
        parsed = try data.withUnsafeBytes { raw throws(EmbeddingCSVError) in
            try EmbeddingCSV.parse(raw, limits: .default, threads: ProcessInfo.processInfo.activeProcessorCount)
        }
    } catch {
        print("cannot parse \(o.path): \(error)")
        exit(1)
    }
    let n = parsed.rowCount, d = parsed.dimension
    let x = EmbeddingMatrix(rows: n, dimension: d, values: parsed.values)
    print(String(format: "csv: %d x %d parsed in %.2f s (load average %@)", n, d, now() - t0, loadAverage()))
    let req = SamplingRequest(method: .coreset, nSamples: Double(o.k), minDistance: -1)   // as the job passes it
    var times: [Double] = []
    var last: SamplingResult?
    for _ in 0 ..< o.repeats {
        let t = now()
        do { last = try Sampler.select(req, embeddings: x) } catch {
            print("sampler error: \(error)")
            exit(1)
        }
        times.append(now() - t)
    }
    guard let last else { return }
    let s = last.stats
    print(String(format: "in-process CORESET k=%d: median %.3f s of %@ (rows read %d = %.2f %% of plain, plain passes %d)",
                 o.k, median(times), times.map { String(format: "%.3f", $0) }.joined(separator: ", "),
                 s.rowsScanned, 100 * s.scannedFraction, s.passes - s.lazyPasses - s.prunedPasses))
    if let out = o.picksOut {
        let text = (last.preselected + last.picked).map(String.init).joined(separator: "\n") + "\n"
        FileManager.default.createFile(atPath: out, contents: Data(text.utf8))
    }
}
