import Foundation
import Testing

/// The repository must stand on its own: no tracked file may send a reader to documents that
/// are not in it (the team's internal specification, design notes or style guide) or to a
/// path on a build machine. The rules live in docs/selection.md and docs/protocol.md.
@Suite struct RepoCitationTests {
    /// The package root (three levels above this file).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    /// This file, relative to the root: it necessarily spells the forbidden strings.
    static let selfPath = "Tests/LightlyAPITests/RepoCitationTests.swift"

    /// True when the root is a git checkout and `git` can list its files (not, e.g., in a
    /// source archive); the test is skipped otherwise.
    static let canListFiles: Bool = (try? trackedFiles()) != nil

    /// Citations of outside documents, matched case-insensitively.
    static let forbiddenPhrases = ["spec §", "design §", "style §", "lightly-api-v1.md", "design/sampling.md", "../shared/"]

    /// `git ls-files` at the package root. - Throws: when git is missing or fails.
    static func trackedFiles() throws -> [String] {
        guard FileManager.default.fileExists(atPath: root.appendingPathComponent(".git").path) else {
            throw CocoaError(.fileNoSuchFile)
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git", "-C", root.path, "ls-files", "-z"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw CocoaError(.fileReadUnknown) }
        return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The problems on one line of text: forbidden phrases and absolute paths of a build
    /// machine (`/work/`, `/root/`, `/home/` as the start of a path, or a `/tmp/…` path that
    /// leads into the repository's own folders).
    static func problems(in line: Substring) -> [String] {
        var found: [String] = []
        // Cheap filters first: the regexes are slow, and most lines have none of these.
        if line.contains("§") || line.contains(".md") || line.contains("shared/") {
            let lower = line.lowercased()
            for phrase in forbiddenPhrases where lower.contains(phrase) { found.append("cites \"\(phrase)\"") }
        }
        if line.contains("/work/") || line.contains("/root/") || line.contains("/home/"),
           line.contains(/(^|[\s"'`(=:,\[])\/(work|root|home)\//) {
            found.append("absolute path of a build machine")
        }
        if line.contains("/tmp/"), line.contains(/\/tmp\/([^\s"'`)]*\/)?(Sources|Tests|docs|benchmarks|\.build)\//) {
            found.append("a repository path under /tmp")
        }
        return found
    }

    @Test func theCheckCatchesEachKindOfCitation() {
        #expect(!Self.problems(in: "see (spec §4.2) for the encoding").isEmpty)
        #expect(!Self.problems(in: "// Design §2.3, the fused pass").isEmpty)
        #expect(!Self.problems(in: "errors in one place (STYLE §2.4)").isEmpty)
        #expect(!Self.problems(in: "`lightly-api-v1.md` has the routes").isEmpty)
        #expect(!Self.problems(in: "rules in design/sampling.md").isEmpty)
        #expect(!Self.problems(in: "see ../shared/notes").isEmpty)
        #expect(!Self.problems(in: "open /work/main/README.md").isEmpty)
        #expect(!Self.problems(in: "cp x /home/alice/lightly-server/").isEmpty)
        #expect(!Self.problems(in: "built in /tmp/build/Sources/LightlyAPI/").isEmpty)
        #expect(Self.problems(in: "see docs/selection.md §4 and <data>/tmp/ files").isEmpty)
        #expect(Self.problems(in: "mktemp /tmp/httpkit-test-XXXXXX").isEmpty)
    }

    @Test(.enabled(if: RepoCitationTests.canListFiles, "needs a git checkout and git"))
    func noTrackedFileCitesDocumentsOutsideTheRepo() throws {
        let files = try Self.trackedFiles()
        #expect(files.count > 50)
        var report: [String] = []
        var scanned = 0
        for path in files where path != Self.selfPath {
            guard let data = FileManager.default.contents(atPath: Self.root.appendingPathComponent(path).path),
                  !data.prefix(8192).contains(0),                      // binary (images, …)
                  let text = String(data: data, encoding: .utf8) else { continue }
            scanned += 1
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                for p in Self.problems(in: line) { report.append("\(path):\(n + 1): \(p): \(line.prefix(120))") }
            }
        }
        #expect(scanned > 50)
        #expect(report.isEmpty, """
            \(report.count) line(s) cite documents that are not in the repository; point to \
            docs/selection.md or docs/protocol.md, or say the thing in plain words:
            \(report.prefix(40).joined(separator: "\n"))
            """)
    }
}
