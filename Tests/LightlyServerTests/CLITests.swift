import Foundation
import TestSupport
import Testing

/// Drives the built `lightly-server` binary (it sits next to the test bundle in .build/<config>/):
/// these pin the command-line contract that outside tooling relies on.
@Suite(.enabled(if: CLI.binary != nil, "lightly-server binary not built next to the test bundle"))
struct CLITests {
    @Test func firstServePrintsTheTokenOnceThenListens() throws {
        try withTempDir { dir in
            let data = dir + "/data"
            var server = try CLI.startServer(data: data)
            #expect(server.output.contains("export LIGHTLY_SERVER_LOCATION=http://127.0.0.1:\(server.port)"))
            let token = try #require(server.token)
            #expect(token.hasPrefix("lt_"))
            #expect(try CLI.run(["healthcheck", "--url", "http://127.0.0.1:\(server.port)/health"]).status == 0)
            #expect(try CLI.run(["healthcheck", "--url", "http://127.0.0.1:\(server.port)/missing"]).status != 0)
            #expect(try server.stop() == 0)            // SIGTERM → exit 0

            // The token is in the database as a digest only.
            let db = try #require(FileManager.default.contents(atPath: data + "/lightly.sqlite3"))
            #expect(db.range(of: Data(token.utf8)) == nil)

            // Second start: no token again.
            server = try CLI.startServer(data: data)
            #expect(server.token == nil)
            #expect(!server.output.contains("LIGHTLY_TOKEN"))
            #expect(try server.stop() == 0)

            let attrs = try FileManager.default.attributesOfItem(atPath: data)
            #expect((attrs[.posixPermissions] as? Int) == 0o700)
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "needs the openssl command line"))
    func httpsServeHealthcheckAndReloadOnSIGHUP() throws {
        try withTempDir { dir in
            // A CA and a certificate for 127.0.0.1, made by the openssl command line.
            func issue(_ name: String, _ sans: String) throws {
                let script = """
                    set -e; cd '\(dir)'
                    [ -f ca.pem ] || { openssl ecparam -name prime256v1 -genkey -noout -out ca.key
                      openssl req -x509 -new -key ca.key -subj '/CN=cli test CA' -days 2 -out ca.pem; }
                    openssl ecparam -name prime256v1 -genkey -noout -out new.key
                    openssl req -new -key new.key -subj '/CN=\(name)' -out new.csr
                    printf 'subjectAltName=\(sans)\\n' > new.ext
                    openssl x509 -req -in new.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile new.ext -out new.pem
                    mv new.pem server.pem; mv new.key server.key
                    """
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/bin/sh")
                p.arguments = ["-c", script]
                p.standardOutput = FileHandle.nullDevice
                p.standardError = FileHandle.nullDevice
                try p.run()
                p.waitUntilExit()
                try #require(p.terminationStatus == 0)
            }
            try issue("first", "IP:127.0.0.1")
            var server = try CLI.startServer(data: dir + "/data", arguments: [
                "--tls-cert", dir + "/server.pem", "--tls-key", dir + "/server.key"])
            #expect(server.output.contains("export LIGHTLY_SERVER_LOCATION=https://127.0.0.1:\(server.port)"))
            #expect(server.output.contains("listening on https://127.0.0.1:\(server.port)"))
            let url = "https://127.0.0.1:\(server.port)/health"
            #expect(try CLI.run(["healthcheck", "--url", url, "--ca-file", dir + "/ca.pem"]).status == 0)
            #expect(try CLI.run(["healthcheck", "--url", url]).status != 0, "the test CA is not trusted by default")
            #expect(try CLI.run(["healthcheck", "--url", "http://127.0.0.1:\(server.port)/health"]).status != 0)

            // Renew the certificate in place (now also for renewed.lan), SIGHUP, and new
            // connections get it.
            let renewed = ["healthcheck", "--url", url, "--ca-file", dir + "/ca.pem", "--server-name", "renewed.lan"]
            #expect(try CLI.run(renewed).status != 0)
            try issue("renewed", "IP:127.0.0.1,DNS:renewed.lan")
            kill(server.process.processIdentifier, SIGHUP)
            var status: Int32 = -1
            for _ in 0..<50 where status != 0 {
                status = try CLI.run(renewed).status
                if status != 0 { usleep(100_000) }
            }
            #expect(status == 0)
            #expect(try server.stop() == 0)
        }
    }

    @Test func tokenCommandsWorkWhileServing() throws {
        try withTempDir { dir in
            let data = dir + "/data"
            let server = try CLI.startServer(data: data)
            let created = try CLI.run(["token", "create", "--data-dir", data, "--name", "ci"])
            #expect(created.status == 0)
            let token = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(token.hasPrefix("lt_") && !token.contains("\n"), "the token alone on stdout")
            #expect(try CLI.run(["token", "create", "--data-dir", data, "--name", "ci"]).status != 0)
            let list = try CLI.run(["token", "list", "--data-dir", data])
            #expect(list.status == 0 && list.stdout.contains("default") && list.stdout.contains("ci"))
            #expect(!list.stdout.contains("lt_"))
            let json = try CLI.run(["token", "list", "--data-dir", data, "--json"])
            let items = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]]
            #expect(items?.compactMap { $0["name"] as? String } == ["default", "ci"])
            #expect(try CLI.run(["token", "revoke", "--data-dir", data, "ci"]).status == 0)
            let unknown = try CLI.run(["token", "revoke", "--data-dir", data, "nobody"])
            #expect(unknown.status != 0 && unknown.stderr.contains("nobody"))
            let backup = try CLI.run(["backup", "--data-dir", data, "--to", dir + "/copy.sqlite3"])
            #expect(backup.status == 0)
            #expect(FileManager.default.fileExists(atPath: dir + "/copy.sqlite3"))
            var s = server
            #expect(try s.stop() == 0)
        }
    }

    @Test func tokenCreateOnAnExistingEmptyFolderAndMigrate() throws {
        try withTempDir { dir in
            let created = try CLI.run(["token", "create", "--data-dir", dir, "--name", "first"])
            #expect(created.status == 0 && created.stdout.hasPrefix("lt_"))
            let migrate = try CLI.run(["migrate", "--data-dir", dir])
            #expect(migrate.status == 0 && migrate.stdout.contains("nothing to apply"))
            // A folder with a token already: serve prints no token.
            var server = try CLI.startServer(data: dir)
            #expect(server.token == nil)
            #expect(try server.stop() == 0)
        }
    }

    /// A first start that cannot bind must not use up the one-time token.
    @Test func failedFirstStartKeepsTheTokenForTheNextStart() throws {
        try withTempDir { dir in
            var other = try CLI.startServer(data: dir + "/other")
            defer { _ = try? other.stop() }
            let failed = try CLI.run(["serve", "--data-dir", dir + "/data", "--port", String(other.port)])
            #expect(failed.status != 0 && failed.stderr.contains("bind"))
            #expect(!failed.stdout.contains("LIGHTLY_TOKEN"))
            var server = try CLI.startServer(data: dir + "/data")
            #expect(server.token != nil)
            #expect(try server.stop() == 0)
        }
    }

    @Test func badSettingsFailClearly() throws {
        let r = try CLI.run(["serve", "--port", "99999", "--data-dir", "/nonexistent/x"])
        #expect(r.status != 0 && r.stderr.contains("--port"))
        let env = try CLI.run(["settings"], environment: ["LIGHTLY_SERVER_PORT": "9000", "LIGHTLY_SERVER_LOG_LEVEL": "debug"])
        #expect(env.stdout.contains("port = 9000") && env.stdout.contains("log_level = \"debug\""))
    }

    /// The password of `--database` / LIGHTLY_SERVER_DATABASE never reaches the terminal or the
    /// log: not in `settings`, not in a bad-value error, not when the server cannot connect.
    @Test func databasePasswordIsNeverPrinted() throws {
        let secret = "Hunter2-\(UInt32.random(in: 0...UInt32.max))"
        // Port 1 on loopback: nothing listens, so the connection is refused at once.
        let url = "postgresql://lightly:\(secret)@127.0.0.1:1/lightly?password=\(secret)&connect_timeout=2"
        let shown = try CLI.run(["settings", "--database", url])
        #expect(shown.status == 0)
        #expect(shown.stdout.contains("database = \"postgresql://lightly:***@127.0.0.1:1/lightly?password=***&connect_timeout=2\""))
        let fromEnv = try CLI.run(["settings"], environment: ["LIGHTLY_SERVER_DATABASE": url])
        #expect(fromEnv.stdout.contains("lightly:***@"))
        let bad = try CLI.run(["settings", "--database", "mysql://root:\(secret)@db/x"])
        #expect(bad.status != 0 && bad.stderr.contains("postgresql://"))
        try withTempDir { dir in
            let serve = try CLI.run(["serve", "--port", "0", "--data-dir", dir + "/data", "--database", url])
            #expect(serve.status != 0 && serve.stderr.contains("PostgreSQL"))
            let token = try CLI.run(["token", "create", "--name", "x", "--data-dir", dir + "/data"],
                                    environment: ["LIGHTLY_SERVER_DATABASE": url])
            #expect(token.status != 0)
            for r in [shown, fromEnv, bad, serve, token] {
                #expect(!(r.stdout + r.stderr).contains(secret))
            }
        }
    }
}

enum CLI {
    /// `.build/<config>/lightly-server`, found next to the running test bundle.
    static let binary: String? = {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("lightly-server").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }()

    typealias Result = ProcessResult

    static func run(_ args: [String], environment: [String: String] = [:]) throws -> Result {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LIGHTLY_SERVER_") }
        env.merge(environment) { $1 }
        return try runProcess(binary ?? "/nonexistent", args, environment: env)
    }

    struct Server {
        let process: Process
        let port: Int
        let output: String
        var token: String? {
            output.split(separator: "\n").first { $0.hasPrefix("export LIGHTLY_TOKEN=") }.map { String($0.dropFirst("export LIGHTLY_TOKEN=".count)) }
        }
        /// SIGTERM, wait, return the exit status.
        mutating func stop() throws -> Int32 {
            process.terminate()
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

    /// Starts `serve --port 0` and reads stdout (a pipe) until the `listening on` line.
    static func startServer(data: String, arguments: [String] = []) throws -> Server {
        try startServe(["--data-dir", data] + arguments)
    }

    /// Starts `serve --port 0 --log-level warning` plus `arguments`, with `environment` on top of
    /// ours (less any `LIGHTLY_SERVER_*`), and waits for the `listening on` line.
    static func startServe(_ arguments: [String], environment: [String: String] = [:]) throws -> Server {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary ?? "/nonexistent")
        p.arguments = ["serve", "--port", "0", "--log-level", "warning"] + arguments
        p.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LIGHTLY_SERVER_") }
            .merging(environment) { $1 }
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        var text = ""
        let deadline = Date().addingTimeInterval(20)
        while !text.contains("listening on"), Date() < deadline {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard let line = text.split(separator: "\n").first(where: { $0.contains("listening on http") }),
              let port = Int(line.split(separator: ":").last ?? "") else {
            p.terminate()
            throw CLIStartError(output: text)
        }
        #expect(text.split(separator: "\n").filter { $0.contains("listening on") }.count == 1)
        return Server(process: p, port: port, output: text)
    }

    struct CLIStartError: Error { var output: String }
}
