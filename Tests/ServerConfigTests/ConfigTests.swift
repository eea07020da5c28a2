import Foundation
import ServerConfig
import Testing

@Suite struct ConfigTests {
    @Test func defaults() throws {
        let s = try ServerSettings.resolve()
        #expect(s == .defaults)
        #expect(s.host == "127.0.0.1" && s.port == 8421 && s.dataDir == "./lightly-data")
        #expect(s.signedURLTTL == 3600 && s.jobPollWait == 1 && s.maxDatasetSamples == 1_000_000)
        #expect(s.minimumClientVersion == "1.0.0" && s.publicURL == nil && s.logLevel == "info")
    }

    @Test func precedenceIsDefaultsFileEnvironmentFlags() throws {
        let file = try ConfigFile.parse("""
            host = "10.0.0.1"   # file
            port = 1000
            log_level = 'debug'
            max_body_bytes = 1_000
            """, source: "test.toml")
        let env = ["LIGHTLY_SERVER_PORT": "2000", "LIGHTLY_SERVER_LOG_LEVEL": "warning",
                   "LIGHTLY_SERVER_LOCATION": "http://ignored", "UNRELATED": "x"]
        let flags: [ServerSettings.Key: String] = [.logLevel: "error"]
        let s = try ServerSettings.resolve(file: file, environment: env, flags: flags)
        #expect(s.host == "10.0.0.1")        // file only
        #expect(s.port == 2000)              // env beats file
        #expect(s.logLevel == "error")       // flag beats env and file
        #expect(s.maxBodyBytes == 1000)
        #expect(s.idleTimeout == 60)         // default
        // Each layer alone.
        #expect(try ServerSettings.resolve(file: file).port == 1000)
        #expect(try ServerSettings.resolve(environment: env).port == 2000)
        #expect(try ServerSettings.resolve(file: file, environment: env, flags: [.port: "0"]).port == 0)
        // A custom base.
        var base = ServerSettings.defaults
        base.jobPollWait = 5
        #expect(try ServerSettings.resolve(defaults: base, file: file).jobPollWait == 5)
    }

    @Test func everySettingHasEnvironmentAndFlagNames() throws {
        for key in ServerSettings.Key.allCases {
            #expect(key.environmentName == "LIGHTLY_SERVER_" + key.rawValue.uppercased())
            #expect(key.flagName == "--" + key.rawValue.replacingOccurrences(of: "_", with: "-"))
            // Round trip: the default's text form parses back to the default.
            var s = ServerSettings.defaults
            try key.apply(key.value(in: .defaults), to: &s, source: "t")
            #expect(s == .defaults, "\(key)")
        }
        let env = Dictionary(uniqueKeysWithValues: ServerSettings.Key.allCases.map { ($0.environmentName, $0 == .port ? "1" : $0.value(in: .defaults)) })
        #expect(try ServerSettings.resolve(environment: env).port == 1)
    }

    @Test(arguments: [
        ("port = 70000", "port"), ("port = \"abc\"", "port"), ("log_level = \"loud\"", "log_level"),
        ("header_timeout = 0", "header_timeout"), ("public_url = \"ftp://x\"", "public_url"),
        ("minimum_client_version = \"1.x\"", "minimum_client_version"), ("minimum_client_version = \"1.0\"", "minimum_client_version"), ("max_connections = -1", "max_connections"),
    ])
    func badValuesNameTheirSource(line: String, key: String) throws {
        let file = try ConfigFile.parse(line, source: "bad.toml")
        let e = try #require(throws: ConfigError.self) { try ServerSettings.resolve(file: file) }
        #expect(e.source == "bad.toml line 1")
        #expect(e.message.hasPrefix(key + ":"))
        let envError = try #require(throws: ConfigError.self) {
            try ServerSettings.resolve(environment: ["LIGHTLY_SERVER_PORT": "-5"])
        }
        #expect(envError.source == "environment variable LIGHTLY_SERVER_PORT")
        let flagError = try #require(throws: ConfigError.self) { try ServerSettings.resolve(flags: [.port: "x"]) }
        #expect(flagError.source == "option --port")
    }

    @Test(arguments: [
        "[server]", "hosts = \"x\"", "port", "host = \"unterminated", "host = [1, 2]", "port = 1 2",
        "host = bare", "port = 1\nport = 2", "host = \"\\q\"", "a.b = 1",
    ])
    func parserRejects(text: String) {
        #expect(throws: ConfigError.self) { try ConfigFile.parse(text, source: "x.toml") }
    }

    @Test func parserAcceptsTheSubset() throws {
        let entries = try ConfigFile.parse("""
            # comment
              \t
            host = "a\\u0062c" # trailing
            data_dir = 'C:\\no\\escapes'
            public_url = "https://example.test/lightly/"\r
            header_timeout = 2.5
            """)
        #expect(entries.map(\.value) == ["abc", "C:\\no\\escapes", "https://example.test/lightly/", "2.5"])
        #expect(entries.map(\.source) == ["config file line 3", "config file line 4", "config file line 5", "config file line 6"])
        let s = try ServerSettings.resolve(file: entries)
        #expect(s.publicURL == "https://example.test/lightly")   // trailing slash dropped
        #expect(s.headerTimeout == 2.5)
    }

    @Test func location() throws {
        var s = ServerSettings.defaults
        #expect(s.location(port: 9) == "http://127.0.0.1:9")
        s.host = "0.0.0.0"
        #expect(s.location(port: 9) == "http://127.0.0.1:9")
        s.host = "::1"
        #expect(s.location(port: 9) == "http://[::1]:9")
        s.publicURL = "https://lightly.example"
        #expect(s.location(port: 9) == "https://lightly.example")
        s.publicURL = nil
        s.tlsCert = "c.pem"
        s.tlsKey = "k.pem"
        #expect(s.location(port: 9) == "https://[::1]:9")
    }

    @Test func tlsCertificateAndKeyComeTogether() throws {
        let both = try ServerSettings.resolve(environment: ["LIGHTLY_SERVER_TLS_CERT": "c.pem"], flags: [.tlsKey: "k.pem"])
        #expect(both.usesTLS && both.tlsCert == "c.pem" && both.tlsKey == "k.pem")
        #expect(throws: ConfigError.self) { try ServerSettings.resolve(flags: [.tlsCert: "c.pem"]) }
        #expect(!ServerSettings.defaults.usesTLS)
    }

    /// `workers`: 0 picks the automatic count; the database gets one reader per worker up to its cap.
    @Test func workersSizeTheReaderPool() throws {
        let auto = try ServerSettings.resolve()
        #expect(auto.workers == 0)
        #expect(auto.resolvedWorkers == ServerSettings.automaticWorkers)
        #expect(ServerSettings.automaticWorkers >= 8 && ServerSettings.automaticWorkers <= ServerSettings.maxWorkers)
        #expect(auto.databaseReaders == min(ServerSettings.automaticWorkers, ServerSettings.maxDatabaseReaders))

        let fromEnv = try ServerSettings.resolve(environment: ["LIGHTLY_SERVER_WORKERS": "8"])
        #expect(fromEnv.resolvedWorkers == 8 && fromEnv.databaseReaders == 8)
        let fromFlag = try ServerSettings.resolve(environment: ["LIGHTLY_SERVER_WORKERS": "8"], flags: [.workers: "200"])
        #expect(fromFlag.resolvedWorkers == 200 && fromFlag.databaseReaders == ServerSettings.maxDatabaseReaders)
        let one = try ServerSettings.resolve(file: ConfigFile.parse("workers = 1"))
        #expect(one.resolvedWorkers == 1 && one.databaseReaders == 1)

        for bad in ["-1", "257", "many"] {
            let e = try #require(throws: ConfigError.self) { try ServerSettings.resolve(flags: [.workers: bad]) }
            #expect(e.source == "option --workers" && e.message.hasPrefix("workers:"))
        }
    }

    /// config/lightly-server.toml documents every setting, and its commented values are the defaults.
    @Test func shippedConfigDocumentsEveryDefault() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("config/lightly-server.toml").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(try ConfigFile.parse(text).isEmpty, "everything is commented out")
        let uncommented = text.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("# "), line.contains(" = ") else { return nil }
            return String(line.dropFirst(2))
        }.joined(separator: "\n")
        let entries = try ConfigFile.parse(uncommented, source: path)
        #expect(Set(entries.map(\.key)) == Set(ServerSettings.Key.allCases))
        #expect(try ServerSettings.resolve(file: entries) == .defaults)
        for key in ServerSettings.Key.allCases {
            #expect(text.contains(key.environmentName) && text.contains(key.flagName), "\(key)")
        }
    }
}
