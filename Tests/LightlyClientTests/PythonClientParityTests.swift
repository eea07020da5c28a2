import Foundation
import Testing
@testable import LightlyClient
import LightlyCore
import LightlyWire

/// The Swift client and the real Python client 1.5.26 against the same server process: the
/// names query, the paged mappings, the three exports and a selection give the same answers.
/// Needs the venv that `Fixtures/python_client_calls.py` describes; skipped without it.
@Suite(.serialized, .enabled(if: PythonClientVenv.python != nil, "no lightly 1.5.26 venv at .build/pyclient/1.5.26 or .build/conformance/venvs/1.5.26"))
struct PythonClientParityTests {
    static var python: String? { PythonClientVenv.python }

    struct PythonAnswers: Decodable {
        struct Selection: Decodable { var name: String; var bitMaskData: String }
        var version: String
        var datasets_by_name: [String]
        var datasets_by_name_missing: [String]
        var create_existing_raises: Bool
        var dataset_id: String
        var filenames: [String]
        var export_filenames: String
        var export_filenames_and_read_urls: [ExportedFile]
        var label_studio: [LabelStudioTask]
        var selection: Selection
    }

    /// Runs the script with a 180 s limit and decodes its JSON.
    static func runPython(server: LiveServer, arguments: [String]) throws -> PythonAnswers {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try #require(python))
        p.arguments = [LiveServer.packageRoot.appendingPathComponent("Tests/LightlyClientTests/Fixtures/python_client_calls.py").path] + arguments
        var env = ProcessInfo.processInfo.environment
        env["LIGHTLY_SERVER_LOCATION"] = server.url
        env["LIGHTLY_TOKEN"] = server.token
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let killer = DispatchWorkItem { if p.isRunning { p.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 180, execute: killer)
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        killer.cancel()
        guard p.terminationStatus == 0 else {
            throw LiveServerError("python client exited \(p.terminationStatus): \(String(decoding: e.suffix(2000), as: UTF8.self))")
        }
        return try JSONDecoder().decode(PythonAnswers.self, from: o)
    }

    @Test func sameAnswersAsThePythonClient() async throws {
        let server = try LiveServer()
        defer { _ = server.stop() }
        let client = try ApiWorkflowClient(token: server.token, serverLocation: server.url)
        let id = try await client.createDataset(name: "parity")
        let (names, rows) = EndToEndTests.dataset()
        try await client.uploadEmbeddings(rows, filenames: names, name: "default")
        try await client.selection(SelectionConfig(method: .random, nSamples: 40, name: "picked"))

        let py = try Self.runPython(server: server, arguments: ["parity", "picked", "py-coreset"])
        #expect(py.version == "1.5.26")
        #expect(py.datasets_by_name == (try await client.getDatasetsByName("parity")).map(\.id))
        #expect(py.datasets_by_name == [id])
        #expect(py.datasets_by_name_missing.isEmpty)
        #expect(try await client.getDatasetsByName("parity-missing").isEmpty)
        #expect(py.create_existing_raises)
        let taken = await #expect(throws: LightlyClientError.self) { try await client.createDataset(name: "parity") }
        #expect(taken.map { if case .invalidArgument = $0 { true } else { false } } == true)
        #expect(py.dataset_id == (try await client.setDatasetIdByName("parity")))

        #expect(py.filenames == (try await client.filenamesOnServer(refresh: true)))
        #expect(py.export_filenames.split(separator: "\n").count == 40)
        #expect(py.label_studio.count == 40)
        #expect(py.export_filenames == (try await client.exportFilenamesByTagName("picked")))
        // Read URLs are signed per request (their expiry second may differ): compare the rest.
        let urls = try await client.exportFilenamesAndReadUrlsByTagName("picked")
        #expect(py.export_filenames_and_read_urls.map(\.fileName) == urls.map(\.fileName))
        #expect(py.export_filenames_and_read_urls.map(\.datasourceUrl) == urls.map(\.datasourceUrl))
        #expect(py.export_filenames_and_read_urls.map { Self.unsigned($0.readUrl) } == urls.map { Self.unsigned($0.readUrl) })
        let tasks = try await client.exportLabelStudioTasksByTagName("picked")
        #expect(py.label_studio.map(\.id) == tasks.map(\.id))
        #expect(py.label_studio.map(\.data.lightlyFileName) == tasks.map(\.data.lightlyFileName))
        #expect(py.label_studio.map { Self.unsigned($0.data.image) } == tasks.map { Self.unsigned($0.data.image) })

        // The same selection asked by both clients: CORESET is deterministic.
        let swiftTag = try await client.selection(SelectionConfig(method: .coreset, nSamples: 30, name: "swift-coreset"))
        #expect(py.selection.name == "py-coreset")
        #expect(py.selection.bitMaskData == swiftTag.bitMaskData)
    }

    /// A signed URL without its query (expiry and signature).
    static func unsigned(_ url: String) -> String { String(url.prefix { $0 != "?" }) }
}

/// The Python interpreter of a lightly 1.5.26 venv: the one `Fixtures/python_client_calls.py`
/// describes, else the conformance suite's (`.ci/run` makes it: 1.5.26 is in its default
/// matrix; `.conformance-ok` marks a finished install).
enum PythonClientVenv {
    static let python: String? = {
        let root = LiveServer.packageRoot
        let own = root.appendingPathComponent(".build/pyclient/1.5.26/bin/python").path
        if FileManager.default.isExecutableFile(atPath: own) { return own }
        let conformance = root.appendingPathComponent(".build/conformance/venvs/1.5.26")
        let python = conformance.appendingPathComponent("bin/python").path
        let ready = FileManager.default.fileExists(atPath: conformance.appendingPathComponent(".conformance-ok").path)
        return ready && FileManager.default.isExecutableFile(atPath: python) ? python : nil
    }()
}
