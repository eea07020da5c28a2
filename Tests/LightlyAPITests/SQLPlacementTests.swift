import Foundation
import Testing

/// All SQL lives in the storage module (`Sources/LightlyStorage`: the engines, the migrations'
/// runner and the stores); every other module reaches the database through the stores. This
/// test reads every Swift source file outside that module and fails on a line that spells an
/// SQL statement, so a query written straight into a route is caught in review's place.
@Suite struct SQLPlacementTests {
    /// The package root (three levels above this file).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Statement openings that only SQL spells (case-sensitive: SQL in this code base is upper case).
    nonisolated(unsafe) static let statementPattern = try! Regex(#"\b(SELECT\s+[\w*(]|INSERT\s+(OR\s+\w+\s+)?INTO\b|UPDATE\s+\w+\s+SET\b|DELETE\s+FROM\b|CREATE\s+(TABLE|INDEX|UNIQUE)\b|ALTER\s+TABLE\b|DROP\s+TABLE\b)"#)

    /// `(file, line number, line)` of every SQL-looking line in `Sources/` outside `LightlyStorage`.
    static func offenders() throws -> [(String, Int, String)] {
        let sources = root.appendingPathComponent("Sources")
        guard let walker = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil) else { return [] }
        var found: [(String, Int, String)] = []
        for case let url as URL in walker where url.pathExtension == "swift" {
            let relative = String(url.path.dropFirst(root.path.count + 1))
            if relative.hasPrefix("Sources/LightlyStorage/") { continue }
            let text = try String(contentsOf: url, encoding: .utf8)
            for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where line.contains(statementPattern) && !line.trimmingCharacters(in: .whitespaces).hasPrefix("//") {
                found.append((relative, i + 1, String(line)))
            }
        }
        return found
    }

    @Test func noSQLOutsideTheStorageModule() throws {
        let found = try Self.offenders()
        #expect(found.isEmpty, "SQL outside Sources/LightlyStorage: \(found.map { "\($0.0):\($0.1): \($0.2)" })")
    }

    /// The pattern does catch a statement (so the test above cannot pass by matching nothing).
    @Test func patternRecognisesStatements() {
        #expect("try conn.query(\"SELECT id FROM datasets WHERE id = ?\", id)".contains(Self.statementPattern))
        #expect("\"INSERT OR IGNORE INTO tags (id) VALUES (?)\"".contains(Self.statementPattern))
        #expect("\"UPDATE jobs SET status = 'WAITING'\"".contains(Self.statementPattern))
        #expect(!"/// Selects the samples to upload".contains(Self.statementPattern))
        // And the storage module itself has SQL, so the walk reads the files it should.
        let store = Self.root.appendingPathComponent("Sources/LightlyStorage/Stores/DatasetStore.swift")
        #expect((try? String(contentsOf: store, encoding: .utf8))?.contains(Self.statementPattern) == true)
    }
}
