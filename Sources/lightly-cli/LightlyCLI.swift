import ArgumentParser
import Foundation
import LightlyClient
import LightlyWire
import LightlyShared

@main
struct LightlyCLI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lightly-cli",
        abstract: "Run the Lightly active-learning loop from a shell, against lightly-server or the hosted platform.",
        discussion: """
        The server comes from --server or LIGHTLY_SERVER_LOCATION, the token from --token or LIGHTLY_TOKEN.
        Every error prints one line to stderr and exits non-zero.
        """,
        subcommands: [Datasets.self, UploadEmbeddings.self, Select.self, Tags.self, Export.self])

    /// Runs a command body and turns every error into one clear line and a non-zero exit.
    static func run(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let e as LightlyClientError {
            FileHandle.standardError.write(Data("error: \(CLIMessages.explain(e))\n".utf8))
            throw ExitCode(CLIMessages.exitCode(e))
        }
    }
}

enum CLIMessages {
    static func explain(_ e: LightlyClientError) -> String {
        switch e {
        case .api(401, _, _, _, _): "the server rejected the token (HTTP 401): check --token or LIGHTLY_TOKEN"
        case .transport(let m): "cannot reach the server: \(m) (check --server or LIGHTLY_SERVER_LOCATION)"
        default: e.description
        }
    }

    /// 2: bad usage or input; 3: not found / rejected by the server; 4: server unreachable; 5: job failed.
    static func exitCode(_ e: LightlyClientError) -> Int32 {
        switch e {
        case .invalidArgument: 2
        case .api: 3
        case .transport, .timeout: 4
        case .jobFailed: 5
        case .invalidResponse: 6
        }
    }
}

/// `--server` and `--token`, shared by every command.
struct Connection: ParsableArguments {
    @Option(help: "API location (default: LIGHTLY_SERVER_LOCATION, then https://api.lightly.ai).")
    var server: String?

    @Option(help: "API token (default: LIGHTLY_TOKEN).")
    var token: String?

    func client(datasetId: String? = nil) throws -> ApiWorkflowClient {
        guard let token = token ?? ProcessInfo.processInfo.environment["LIGHTLY_TOKEN"], !token.isEmpty else {
            throw LightlyClientError.invalidArgument("no token: pass --token or set LIGHTLY_TOKEN")
        }
        return try ApiWorkflowClient(token: token, datasetId: datasetId, serverLocation: server)
    }
}

func printJSON<T: Encodable>(_ value: T) throws {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    FileHandle.standardOutput.write(try e.encode(value))
    FileHandle.standardOutput.write(Data("\n".utf8))
}

// MARK: - datasets

struct Datasets: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create, list and delete datasets.",
                                                    subcommands: [Create.self, List.self, Delete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a dataset and print its id.",
            discussion: "A dataset of that name must not exist (exit 2), unless --if-not-exists: then its id is printed.")
        @OptionGroup var connection: Connection
        @Argument(help: "Dataset name.") var name: String
        @Flag(name: .customLong("if-not-exists"), help: "If a dataset of that name exists, print its id instead of failing.")
        var ifNotExists = false
        func run() async throws {
            try await LightlyCLI.run {
                let client = try connection.client()
                if let existing = try await client.getDatasetsByName(name).first {
                    guard ifNotExists else {
                        throw LightlyClientError.invalidArgument("a dataset named \"\(name)\" already exists (\(existing.id)); pass --if-not-exists to use it")
                    }
                    print(existing.id)
                    return
                }
                print(try await client.createDataset(name: name, reuseExisting: ifNotExists))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List datasets.")
        @OptionGroup var connection: Connection
        @Flag(help: "Print JSON.") var json = false
        func run() async throws {
            try await LightlyCLI.run {
                let all = try await connection.client().datasets()
                if json { try printJSON(all); return }
                for d in all { print("\(d.id)\t\(d.name)\t\(d.nSamples) samples") }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a dataset and everything in it.")
        @OptionGroup var connection: Connection
        @Argument(help: "Dataset id.") var id: String
        func run() async throws {
            try await LightlyCLI.run { try await connection.client().deleteDataset(id: id) }
        }
    }
}

// MARK: - upload-embeddings

struct UploadEmbeddings: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upload-embeddings",
        abstract: "Upload an embeddings CSV (filenames, embedding_0…, labels). Creates the samples when the dataset has none.")
    @OptionGroup var connection: Connection
    @Option(help: "Dataset id.") var dataset: String
    @Option(help: "The CSV file.") var csv: String
    @Option(help: "Embedding name.") var name = "default"

    func run() async throws {
        try await LightlyCLI.run {
            let client = try connection.client(datasetId: dataset)
            let url = URL(fileURLWithPath: csv)
            let bar = isatty(STDERR_FILENO) == 1 ? ProgressBar(label: "uploading \(url.lastPathComponent)") : nil
            var progress: UploadProgressHandler?
            if let bar { progress = { sent, total in bar.update(sent, total) } }
            let id = try await client.uploadEmbeddings(csvFile: url, name: name, progress: progress)
            bar?.finish()
            print(id)
        }
    }
}

/// A one-line progress bar on stderr, redrawn in place.
final class ProgressBar: Sendable {
    let label: String
    init(label: String) { self.label = label }
    func update(_ done: Int64, _ total: Int64) {
        guard total > 0 else { return }
        let width = 30
        let filled = Int(Double(width) * Double(done) / Double(total))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let pct = Int(100 * Double(done) / Double(total))
        FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(pct)%".utf8))
    }
    func finish() { FileHandle.standardError.write(Data("\n".utf8)) }
}

// MARK: - select

struct Select: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a selection on the server, wait for it and print the new tag's size.")
    @OptionGroup var connection: Connection
    @Option(help: "Dataset id.") var dataset: String
    @Option(help: "RANDOM, CORESET, CORAL or ACTIVE_LEARNING.") var method: String
    @Option(help: "Total size of the result, preselected samples included (a value in (0,1) is a fraction).") var n: Double
    @Option(help: "Name of the tag to create.") var name: String
    @Option(help: "Tag whose samples count as labeled already.") var preselected: String?
    @Option(help: "Tag to select from (default: initial-tag).") var query: String?
    @Option(help: "JSON file {\"uncertainty_margin\": [...], ...}: scores for the query tag's samples in mapping order.") var scores: String?
    @Option(name: .customLong("min-distance"), help: "Stop when the next sample is closer than this (-1: off).") var minDistance: Double = -1
    @Option(help: "Give up waiting after this many seconds.") var timeout: Int = 3600

    func run() async throws {
        try await LightlyCLI.run {
            guard let m = SamplingMethod(rawValue: method.uppercased()) else {
                throw LightlyClientError.invalidArgument("unknown method \"\(method)\": use RANDOM, CORESET, CORAL or ACTIVE_LEARNING")
            }
            let client = try connection.client(datasetId: dataset)
            let queryTag = try await client.tag(named: query ?? "initial-tag")
            var preselectedTag: TagData?
            if let preselected { preselectedTag = try await client.tag(named: preselected) }
            if let scores {
                let data: Data
                do { data = try Data(contentsOf: URL(fileURLWithPath: scores)) } catch {
                    throw LightlyClientError.invalidArgument("cannot read \(scores): \(error.localizedDescription)")
                }
                guard let parsed = try? JSONDecoder().decode([String: [Double]].self, from: data) else {
                    throw LightlyClientError.invalidArgument("\(scores) is not a JSON object of score name → array of numbers")
                }
                try await client.uploadScores(parsed, queryTagId: queryTag.id)
            }
            let tag = try await client.selection(SelectionConfig(method: m, nSamples: n, minDistance: minDistance, name: name),
                                                preselectedTagId: preselectedTag?.id, queryTagId: queryTag.id,
                                                timeout: .seconds(timeout))
            print(BitMask(hex: tag.bitMaskData)?.count ?? 0)
        }
    }
}

// MARK: - tags

struct Tags: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Inspect tags.", subcommands: [List.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a dataset's tags in creation order.")
        @OptionGroup var connection: Connection
        @Option(help: "Dataset id.") var dataset: String
        @Flag(help: "Print JSON.") var json = false
        func run() async throws {
            try await LightlyCLI.run {
                let tags = try await connection.client(datasetId: dataset).tags()
                if json { try printJSON(tags); return }
                for t in tags {
                    print("\(t.id)\t\(t.name)\t\(BitMask(hex: t.bitMaskData)?.count ?? 0)/\(t.totSize)")
                }
            }
        }
    }
}

// MARK: - export

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a tag's samples: filenames, csv, json, readurls or Label Studio tasks.",
        discussion: """
        filenames: one file name per line. csv: a "filename" column. json: an array of file names.
        readurls: JSON [{"fileName", "readUrl", "datasourceUrl"}]. labelstudio: JSON Label Studio tasks.
        """)
    @OptionGroup var connection: Connection
    @Option(help: "Dataset id.") var dataset: String
    @Option(help: "Tag name.") var tag: String
    @Option(help: "filenames | csv | json | readurls | labelstudio") var format: String = "filenames"

    func run() async throws {
        try await LightlyCLI.run {
            let formats = ["filenames", "csv", "json", "readurls", "labelstudio"]
            guard formats.contains(format) else {
                throw LightlyClientError.invalidArgument("unknown format \"\(format)\": use \(formats.joined(separator: ", "))")
            }
            let client = try connection.client(datasetId: dataset)
            switch format {
            case "readurls":
                try printJSON(try await client.exportFilenamesAndReadUrlsByTagName(tag))
            case "labelstudio":
                try printJSON(try await client.exportLabelStudioTasksByTagName(tag))
            default:
                let text = try await client.exportFilenamesByTagName(tag)
                let names = text.isEmpty ? [] : text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                switch format {
                case "csv":
                    print("filename")
                    for n in names { print(ApiWorkflowClient.csvField(n)) }
                case "json":
                    try printJSON(names)
                default:
                    if !text.isEmpty { print(text) }
                }
            }
        }
    }
}
