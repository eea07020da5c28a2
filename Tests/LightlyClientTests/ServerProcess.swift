import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif
import LightlyStorage
import Testing

/// A real `lightly-server serve --port 0` process on a data folder the test chooses, which can
/// be killed (`SIGKILL`) and started again on the same folder: for the disk-full and crash
/// tests. The first start on an empty folder prints the token; later starts reuse it.
final class ServerProcess: @unchecked Sendable {
    // @unchecked: `process` and `url` change only from the test's own task (start/kill).
    let dataDir: String
    private(set) var process: Process?
    private(set) var url = ""
    private(set) var token = ""

    init(dataDir: String) { self.dataDir = dataDir }

    /// Starts the server and waits (up to 30 s) for its `listening on` line.
    /// `wrapper` (e.g. `["/bin/sh", "-c", "ulimit …; exec \"$0\" \"$@\""]`) runs the server
    /// binary through another program that `exec`s it.
    func start(wrapper: [String] = [], extraArguments: [String] = ["--job-poll-wait", "0"]) throws {
        let p = Process()
        let binary = try LiveServer.binary("lightly-server")
        let args = ["serve", "--port", "0", "--data-dir", dataDir] + extraArguments
        if let first = wrapper.first {
            p.executableURL = URL(fileURLWithPath: first)
            p.arguments = Array(wrapper.dropFirst()) + [binary] + args
        } else {
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = args
        }
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        let (u, t) = try LiveServer.awaitListening(p, output: out)
        url = u
        if let t { token = t }
        process = p
    }

    /// `kill -9`: no shutdown code runs.
    func kill9() {
        guard let p = process else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        process = nil
    }

    /// SIGTERM and wait.
    func stop() {
        guard let p = process else { return }
        p.terminate()
        p.waitUntilExit()
        process = nil
    }

    deinit { if let p = process, p.isRunning { kill(p.processIdentifier, SIGKILL) } }

    // MARK: - HTTP

    /// One request; the token is appended for `/v1/` paths. Status 0 means no answer (e.g. the
    /// server was killed meanwhile).
    func call(_ method: String, _ pathOrURL: String, json: String? = nil, body: Data? = nil,
              timeout: Double = 30) async -> (status: Int, body: Data) {
        var target = pathOrURL.hasPrefix("http") ? pathOrURL : url + pathOrURL
        if pathOrURL.hasPrefix("/v1/") { target += (target.contains("?") ? "&" : "?") + "token=" + token }
        guard let u = URL(string: target) else { return (0, Data()) }
        var r = URLRequest(url: u, timeoutInterval: timeout)
        r.httpMethod = method
        if let json { r.httpBody = Data(json.utf8); r.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        if let body { r.httpBody = body }
        do {
            let (data, resp) = try await URLSession.shared.data(for: r)
            return ((resp as? HTTPURLResponse)?.statusCode ?? 0, data)
        } catch {
            return (0, Data())
        }
    }

    /// `.id` of a `{"id": …}` answer.
    static func id(_ data: Data) -> String? {
        (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["id"] as? String
    }

    /// `.code` of a JSON error body.
    static func errorCode(_ data: Data) -> String? {
        (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["code"] as? String
    }

    // MARK: - On-disk checks

    /// `PRAGMA integrity_check` of the data folder's database ("ok" when sound).
    func integrityCheck() throws -> String {
        let db = try Database(path: dataDir + "/lightly.sqlite3", readerCount: 1)
        defer { db.close() }
        return try db.read { conn in try conn.queryOne("PRAGMA integrity_check")?.string(0) } ?? "no answer"
    }

    /// Files a crash or a failed write could leave behind: spilled request bodies in `tmp/`
    /// and blob files without a `blobs` row.
    func debris() throws -> [String] {
        let fm = FileManager.default
        var found = (try? fm.contentsOfDirectory(atPath: dataDir + "/tmp"))?.map { "tmp/" + $0 } ?? []
        let db = try Database(path: dataDir + "/lightly.sqlite3", readerCount: 1)
        defer { db.close() }
        let known = Set(try db.read { conn in try conn.query("SELECT id FROM blobs").map { try $0.string(0) } })
        let blobs = dataDir + "/blobs"
        for sub in (try? fm.contentsOfDirectory(atPath: blobs)) ?? [] {
            for name in (try? fm.contentsOfDirectory(atPath: blobs + "/" + sub)) ?? [] where !known.contains(name) {
                found.append("blobs/\(sub)/\(name)")
            }
        }
        return found
    }
}

/// Runs a command; returns its exit status and combined output.
@discardableResult
func runCommand(_ path: String, _ args: [String]) -> (Int32, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    do { try p.run() } catch { return (-1, "\(error)") }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}
