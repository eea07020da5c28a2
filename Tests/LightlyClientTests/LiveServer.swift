import Foundation
import Testing

/// A real `lightly-server serve --port 0` process on a fresh data folder, for end-to-end tests.
/// `swift test` builds the executable next to the test bundle (the test target depends on it).
final class LiveServer: @unchecked Sendable {
    // @unchecked: immutable after init; `process` is only stopped from `stop()`.
    let process: Process
    let dataDir: URL
    let url: String
    let token: String

    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The directory holding the built executables.
    static func binDirectory() throws -> URL {
        var dirs = [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
        if let exe = Bundle.main.executableURL { dirs.append(exe.deletingLastPathComponent()) }
        dirs.append(packageRoot.appendingPathComponent(".build/debug"))
        for var d in dirs {
            for _ in 0..<4 {
                if FileManager.default.isExecutableFile(atPath: d.appendingPathComponent("lightly-server").path) { return d }
                d = d.deletingLastPathComponent()
            }
        }
        throw LiveServerError("lightly-server binary not found next to the test bundle")
    }

    static func binary(_ name: String) throws -> String { try binDirectory().appendingPathComponent(name).path }

    init(extraArguments: [String] = ["--job-poll-wait", "0"]) throws {
        dataDir = FileManager.default.temporaryDirectory.appendingPathComponent("lightly-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dataDir, withIntermediateDirectories: true)
        process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.binary("lightly-server"))
        process.arguments = ["serve", "--port", "0", "--data-dir", dataDir.path] + extraArguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let (u, t) = try Self.awaitListening(process, output: out)
        guard let t else {
            process.terminate()
            throw LiveServerError("no token in the first start's output")
        }
        url = u
        token = t
    }

    /// Waits (at most 30 s) for `serve`'s `listening on http://…` line on `out`; returns the
    /// URL and the token a first start prints (`export LIGHTLY_TOKEN=…`), nil on a restart.
    /// Terminates `process` and throws if it does not start.
    static func awaitListening(_ process: Process, output out: Pipe) throws -> (url: String, token: String?) {
        var text = ""
        let deadline = Date().addingTimeInterval(30)
        while !text.contains("listening on http://") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty || Date() > deadline { process.terminate(); throw LiveServerError("server did not start: \(text)") }
            text += String(decoding: chunk, as: UTF8.self)
        }
        func value(after prefix: String) -> String? {
            text.split(separator: "\n").first { $0.contains(prefix) }.flatMap { line in
                line.range(of: prefix).map { String(line[$0.upperBound...]).trimmingCharacters(in: .whitespaces) }
            }
        }
        guard let url = value(after: "listening on ") else {
            process.terminate()
            throw LiveServerError("unexpected start-up output: \(text)")
        }
        return (url, value(after: "export LIGHTLY_TOKEN="))
    }

    /// A second user's token.
    func createToken(name: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try Self.binary("lightly-server"))
        p.arguments = ["token", "create", "--data-dir", dataDir.path, "--name", name]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        p.waitUntilExit()
        return String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func stop() -> Int32 {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: dataDir)
        return process.terminationStatus
    }

    deinit { if process.isRunning { process.terminate() } }
}

struct LiveServerError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
