// csv-bench: times EmbeddingCSV.parse (+ reorder to a mapping, + write) on one file.
//
//   csv-bench FILE [--threads N] [--repeat K] [--mapping FILE] [--pca] [--parse-only] [--stream]
//
// --mapping names a file with one filename per line (the dataset's mapping order); without
// it the mapping is the CSV's filenames sorted. Prints one `key=value` line per measurement
// (best of K runs) for benchmarks/csv/run.sh to read.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LightlyCore

func fail(_ message: String) -> Never {
    let text = "csv-bench: \(message)\n"
    _ = text.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    exit(2)
}

func readFile(_ path: String) -> [UInt8] {
    guard let f = fopen(path, "rb") else { fail("cannot open \(path)") }
    defer { fclose(f) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
        if n == 0 { break }
        out.append(contentsOf: chunk[0..<n])
    }
    return out
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

func cpuNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

func run() {
    var args = Array(CommandLine.arguments.dropFirst())
    var threads = 1, repeats = 3
    var pca = false, parseOnly = false, stream = false
    var mappingPath: String? = nil
    var path: String? = nil
    while !args.isEmpty {
        let a = args.removeFirst()
        switch a {
        case "--threads": threads = Int(args.isEmpty ? "" : args.removeFirst()) ?? 1
        case "--repeat": repeats = Int(args.isEmpty ? "" : args.removeFirst()) ?? 3
        case "--mapping": mappingPath = args.isEmpty ? nil : args.removeFirst()
        case "--pca": pca = true
        case "--parse-only": parseOnly = true
        case "--stream": stream = true
        default: path = a
        }
    }
    guard let path else { fail("usage: csv-bench FILE [--threads N] [--repeat K] [--mapping FILE]") }
    let bytes = readFile(path)
    let mb = Double(bytes.count) / 1e6

    var best = Double.infinity, bestCPU = Double.infinity
    var parsed: ParsedEmbeddingCSV? = nil
    for _ in 0..<max(1, repeats) {
        let t0 = now(), c0 = cpuNow()
        do {
            parsed = try EmbeddingCSV.parse(bytes, threads: threads)
        } catch {
            fail("parse failed: \(error.message)")
        }
        best = min(best, now() - t0)
        bestCPU = min(bestCPU, cpuNow() - c0)
    }
    guard let parsed else { fail("no result") }
    if stream {
        // What the server's ingest does: 16 MiB windows, each row copied into its final slot.
        var bestStream = Double.infinity
        let d = parsed.dimension
        var matrix = [Float](repeating: 0, count: parsed.rowCount * d)
        for _ in 0..<max(1, repeats) {
            let t0 = now()
            var offset = 0
            var seen: [String: Int] = [:]
            do {
                _ = try bytes.withUnsafeBytes { src in
                    try matrix.withUnsafeMutableBufferPointer { dst in
                        try EmbeddingCSV.parseStream(threads: threads, seen: &seen, read: { buf in
                            let k = min(buf.count, src.count - offset)
                            if k > 0, let s = src.baseAddress, let b = buf.baseAddress { b.copyMemory(from: s + offset, byteCount: k) }
                            offset += k
                            return k
                        }, header: { _ in }, rows: { batch in
                            batch.values.withUnsafeBufferPointer { v in
                                if let s = v.baseAddress, let t = dst.baseAddress {
                                    (t + (batch.firstRow - 1) * d).update(from: s, count: v.count)
                                }
                            }
                        })
                    }
                }
            } catch { fail("stream parse failed: \(error)") }
            bestStream = min(bestStream, now() - t0)
        }
        let same = matrix.elementsEqual(parsed.values, by: { $0.bitPattern == $1.bitPattern })
        print("parse_s=\(best) parse_mb_s=\(mb / best) stream_s=\(bestStream) stream_mb_s=\(mb / bestStream) stream_equal=\(same)")
        return
    }
    if parseOnly {
        print("parse_s=\(best) parse_mb_s=\(mb / best) parse_cpu_s=\(bestCPU)")
        return
    }

    let mapping: [String]
    if let mappingPath {
        mapping = String(decoding: readFile(mappingPath), as: UTF8.self)
            .split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    } else {
        mapping = parsed.filenames.sorted()
    }
    var bestReorder = Double.infinity
    var ordered = parsed
    for _ in 0..<max(1, repeats) {
        let t0 = now()
        do { ordered = try parsed.reordered(toMapping: mapping) } catch { fail("reorder failed: \(error.message)") }
        bestReorder = min(bestReorder, now() - t0)
    }
    var bestWrite = Double.infinity
    var written: [UInt8] = []
    for _ in 0..<max(1, repeats) {
        let t0 = now()
        written = ordered.csvBytes()
        bestWrite = min(bestWrite, now() - t0)
    }
    // Round trip: what we write must parse back to the same bits.
    let roundTrip: Bool
    do {
        let again = try EmbeddingCSV.parse(written, threads: threads)
        roundTrip = again.filenames == ordered.filenames
            && again.values.elementsEqual(ordered.values, by: { $0.bitPattern == $1.bitPattern })
    } catch { fail("re-parse of written CSV failed: \(error.message)") }

    print("bytes=\(bytes.count)")
    // The parser is compiled with LightlyCore's flags (-O with checks), not this target's -Ounchecked.
    print("parser_build=checked target_cpu=\(SamplingBuildInfo.targetCPU) kernels=\(SamplingBuildInfo.runtimeISA)")
    print("rows=\(parsed.rowCount) dimension=\(parsed.dimension) threads=\(threads)")
    print("parse_s=\(best)")
    print("parse_mb_s=\(mb / best)")
    print("parse_cpu_s=\(bestCPU) parse_cpu_mb_s=\(mb / bestCPU)")
    print("reorder_s=\(bestReorder)")
    print("parse_reorder_mb_s=\(mb / (best + bestReorder))")
    print("write_s=\(bestWrite) write_mb=\(Double(written.count) / 1e6) write_mb_s=\(Double(written.count) / 1e6 / bestWrite)")
    print("roundtrip=\(roundTrip ? "ok" : "MISMATCH")")
    if pca {
        let t0 = now()
        let xy = PCA2D.project(values: ordered.values, rows: ordered.rowCount, dimension: ordered.dimension)
        print("pca_s=\(now() - t0) pca_first=\(xy.prefix(4).map { $0 })")
    }
    var sum = 0.0
    for v in parsed.values { sum += Double(v) }
    print("checksum=\(sum)")
}

run()
