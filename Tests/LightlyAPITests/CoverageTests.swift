import Foundation
@testable import LightlyAPI
import Testing

/// docs/COVERAGE.md's Routes table must match the router exactly.
@Suite struct CoverageTests {
    struct Row: Hashable { let method: String; let pattern: String }

    static func coverageRows() throws -> [(Row, String)] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/COVERAGE.md")
        let text = try String(contentsOf: url, encoding: .utf8)
        guard let start = text.range(of: "## Routes") else { return [] }
        var rows: [(Row, String)] = []
        var inTable = false
        for line in text[start.upperBound...].split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") { break }
            guard line.hasPrefix("|") else { if inTable { break } else { continue } }
            inTable = true
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 4, cells[1] != "Method", !cells[1].hasPrefix("---") else { continue }
            rows.append((Row(method: cells[1], pattern: cells[2]), cells[3]))
        }
        return rows
    }

    @Test func coverageTableMatchesTheRouter() throws {
        let t = try TestApp.make()
        let served = Set(t.app.routeTable.map { Row(method: $0.method, pattern: $0.pattern) })
        let rows = try Self.coverageRows()
        #expect(rows.count > 40)
        let statuses: Set<String> = ["tested-with-real-client", "implemented", "not-implemented"]
        var seen = Set<Row>()
        for (row, status) in rows {
            #expect(statuses.contains(status), "unknown status \(status) for \(row)")
            #expect(seen.insert(row).inserted, "duplicate row \(row)")
            if status == "not-implemented" {
                #expect(!served.contains(row), "\(row.method) \(row.pattern) is served but marked not-implemented")
            } else {
                #expect(served.contains(row), "\(row.method) \(row.pattern) is marked \(status) but not served")
            }
        }
        for r in served where !seen.contains(r) {
            Issue.record("\(r.method) \(r.pattern) is served but missing from docs/COVERAGE.md")
        }
    }

    /// docs/openapi.yaml describes exactly the served routes (`{param}` ↔ `:param`).
    @Test func openAPIPathsMatchTheRouter() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/openapi.yaml")
        let text = try String(contentsOf: url, encoding: .utf8)
        var ops = Set<Row>()
        var currentPath: String?
        var inPaths = false
        for line in text.split(separator: "\n") {
            if line == "paths:" { inPaths = true; continue }
            guard inPaths else { continue }
            if !line.hasPrefix(" ") { break }
            if line.hasPrefix("  /"), line.hasSuffix(":"), !line.hasPrefix("   ") {
                let p = String(line.dropFirst(2).dropLast())
                currentPath = p.split(separator: "/").map { s in
                    s.hasPrefix("{") ? ":" + s.dropFirst().dropLast() : String(s)
                }.reduce("") { $0 + "/" + $1 }
                if currentPath == "" { currentPath = "/" }
            } else if let cp = currentPath, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") {
                let m = line.trimmingCharacters(in: .whitespaces).dropLast().uppercased()
                if ["GET", "PUT", "POST", "DELETE", "PATCH"].contains(m) { ops.insert(Row(method: m, pattern: cp)) }
            }
        }
        let t = try TestApp.make()
        let served = Set(t.app.routeTable.map { Row(method: $0.method, pattern: $0.pattern) })
        #expect(ops == served, "only in openapi: \(ops.subtracting(served)); only served: \(served.subtracting(ops))")
    }
}
