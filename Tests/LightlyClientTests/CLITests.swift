import Foundation
import TestSupport
import Testing

/// `lightly-cli` end to end: the shell flow of the README against a real server process.
@Suite(.serialized) struct LightlyCLITests {
    typealias Result = ProcessResult

    static func cli(_ args: [String], server: LiveServer?, token: String? = nil) throws -> Result {
        var env = ProcessInfo.processInfo.environment
        env["LIGHTLY_SERVER_LOCATION"] = server?.url ?? "http://127.0.0.1:1"
        env["LIGHTLY_TOKEN"] = token ?? server?.token ?? "x"
        return try runProcess(try LiveServer.binary("lightly-cli"), args, environment: env)
    }

    @Test func shellFlow() throws {
        let server = try LiveServer()
        defer { _ = server.stop() }
        let dir = server.dataDir.appendingPathComponent("cli-files")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)

        let created = try Self.cli(["datasets", "create", "shell"], server: server)
        try #require(created.status == 0, "\(created.stderr)")
        let id = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(id.count == 24)
        let again = try Self.cli(["datasets", "create", "shell"], server: server)
        #expect(again.status == 2)
        #expect(again.stdout.isEmpty)
        #expect(again.stderr.contains("already exists") && again.stderr.contains("--if-not-exists"))
        let reused = try Self.cli(["datasets", "create", "shell", "--if-not-exists"], server: server)
        #expect(reused.status == 0, "\(reused.stderr)")
        #expect(reused.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == id)
        let other = try Self.cli(["datasets", "create", "shell-2", "--if-not-exists"], server: server)
        #expect(other.status == 0, "\(other.stderr)")
        #expect(other.stdout.trimmingCharacters(in: .whitespacesAndNewlines).count == 24)
        #expect(other.stdout != reused.stdout)

        var csv = "filenames,embedding_0,embedding_1,labels\n"
        for i in 0..<50 { csv += "f\(i).png,\(Double(i % 7)),\(Double(i / 7)),0\n" }
        let csvURL = dir.appendingPathComponent("emb.csv")
        try csv.write(to: csvURL, atomically: true, encoding: .utf8)
        let up = try Self.cli(["upload-embeddings", "--dataset", id, "--csv", csvURL.path], server: server)
        #expect(up.status == 0, "\(up.stderr)")
        #expect(!up.stderr.contains("["), "no progress bar when stderr is not a terminal")

        let first = try Self.cli(["select", "--dataset", id, "--method", "CORESET", "--n", "10", "--name", "first"], server: server)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "10")

        let scores = (0..<50).map { _ in Double.random(in: 0...1) }
        let scoresURL = dir.appendingPathComponent("scores.json")
        try JSONEncoder().encode(["uncertainty_margin": scores]).write(to: scoresURL)
        let second = try Self.cli(["select", "--dataset", id, "--method", "CORAL", "--n", "20", "--name", "second",
                                   "--preselected", "first", "--scores", scoresURL.path], server: server)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "20")

        let tags = try Self.cli(["tags", "list", "--dataset", id, "--json"], server: server)
        struct Tag: Decodable { var name: String; var totSize: Int }
        let decoded = try JSONDecoder().decode([Tag].self, from: Data(tags.stdout.utf8))
        #expect(decoded.map(\.name) == ["initial-tag", "first", "second"])
        #expect(decoded.allSatisfy { $0.totSize == 50 })

        let names = try Self.cli(["export", "--dataset", id, "--tag", "second", "--format", "filenames"], server: server)
        let lines = names.stdout.split(separator: "\n")
        #expect(lines.count == 20)
        #expect(lines.allSatisfy { $0.hasPrefix("f") && $0.hasSuffix(".png") })
        let ls = try Self.cli(["export", "--dataset", id, "--tag", "second", "--format", "labelstudio"], server: server)
        #expect(ls.status == 0, "\(ls.stderr)")
        struct Task: Decodable { struct D: Decodable { var image: String }; var id: Int; var data: D }
        #expect(try JSONDecoder().decode([Task].self, from: Data(ls.stdout.utf8)).count == 20)
        let urls = try Self.cli(["export", "--dataset", id, "--tag", "second", "--format", "readurls"], server: server)
        #expect(urls.status == 0, "\(urls.stderr)")
        struct File: Decodable { var fileName: String; var readUrl: String; var datasourceUrl: String }
        #expect(try JSONDecoder().decode([File].self, from: Data(urls.stdout.utf8)).map(\.fileName) == lines.map(String.init))
        let csvOut = try Self.cli(["export", "--dataset", id, "--tag", "second", "--format", "csv"], server: server)
        #expect(csvOut.stdout.split(separator: "\n").count == 21)
        let badFormat = try Self.cli(["export", "--dataset", id, "--tag", "second", "--format", "xml"], server: server)
        #expect(badFormat.status == 2)
        #expect(badFormat.stderr.contains("unknown format"))

        let list = try Self.cli(["datasets", "list", "--json"], server: server)
        #expect(list.stdout.contains(id))
        #expect(try Self.cli(["datasets", "delete", id], server: server).status == 0)
        #expect(!(try Self.cli(["datasets", "list"], server: server)).stdout.contains(id))
    }

    @Test func errorsExitNonZeroWithAMessage() throws {
        let server = try LiveServer()
        defer { _ = server.stop() }
        let unknown = try Self.cli(["tags", "list", "--dataset", "000000000000000000000000"], server: server)
        #expect(unknown.status == 3)
        #expect(unknown.stderr.contains("DATASET_UNKNOWN"))

        let badToken = try Self.cli(["datasets", "list"], server: server, token: "nope")
        #expect(badToken.status == 3)
        #expect(badToken.stderr.contains("401"))

        let down = try Self.cli(["datasets", "list"], server: nil)
        #expect(down.status == 4)
        #expect(down.stderr.contains("cannot reach the server"))

        let created = try Self.cli(["datasets", "create", "x"], server: server)
        try #require(created.status == 0, "\(created.stderr)")
        let id = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let csvURL = server.dataDir.appendingPathComponent("bad.csv")
        try "filenames,embedding_0\na,1\nb,oops\n".write(to: csvURL, atomically: true, encoding: .utf8)
        let badCSV = try Self.cli(["upload-embeddings", "--dataset", id, "--csv", csvURL.path], server: server)
        #expect(badCSV.status == 3)
        #expect(badCSV.stderr.contains("row 2"))

        let badMethod = try Self.cli(["select", "--dataset", id, "--method", "MAGIC", "--n", "1", "--name", "m"], server: server)
        #expect(badMethod.status == 2)
        #expect(badMethod.stderr.contains("unknown method"))
    }
}
