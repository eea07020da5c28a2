import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LightlyStorage
import ServerConfig

/// `lightly-server`: the root command. The CLI is a contract relied on by outside tooling:
/// keep the command names, options and outputs stable.
struct LightlyServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lightly-server",
        abstract: "A self-hosted server for the Lightly platform REST API.",
        discussion: """
            Point the unmodified `lightly` Python client at it with LIGHTLY_SERVER_LOCATION.
            The first `serve` on an empty data folder prints an API token once.
            """,
        version: LightlyServerCommand.version,
        subcommands: [Serve.self, Token.self, UserCommand.self, Migrate.self, Backup.self, Healthcheck.self, Settings.self],
        defaultSubcommand: nil
    )

    static let version = "0.1.0"
}

// MARK: - Shared options

/// `--data-dir`, `--database` and `--config`, shared by every command that opens the data folder.
struct DataOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Data folder (default ./lightly-data; env LIGHTLY_SERVER_DATA_DIR).", valueName: "dir"))
    var dataDir: String?

    @Option(name: .customLong("database"), help: ArgumentHelp("Keep the database in PostgreSQL: postgresql://USER:PASSWORD@HOST:PORT/DB (default: the SQLite file in the data folder; env LIGHTLY_SERVER_DATABASE). Blobs stay in the data folder.", valueName: "url"))
    var database: String?

    @Option(name: .customLong("config"), help: ArgumentHelp("Config file (flat TOML; env LIGHTLY_SERVER_CONFIG).", valueName: "file"))
    var config: String?

    /// Resolves settings with these two flags plus `extraFlags` on top of file and environment.
    func settings(extraFlags: [ServerSettings.Key: String] = [:]) throws -> ServerSettings {
        let env = ProcessInfo.processInfo.environment
        var file: [ConfigFile.Entry] = []
        if let path = config ?? env[ServerSettings.configEnvironmentVariable], !path.isEmpty {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("cannot read config file \(path)")
            }
            file = try ConfigFile.parse(String(decoding: data, as: UTF8.self), source: path)
        }
        var flags = extraFlags
        if let dataDir { flags[.dataDir] = dataDir }
        if let database { flags[.database] = database }
        return try ServerSettings.resolve(file: file, environment: env, flags: flags)
    }
}

/// Errors for the command line: the message is printed as `Error: …` and the exit code is 1.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

enum DataFolder {
    /// Files we create (database, WAL, blobs, backups) are readable by the owner only: the data
    /// folder holds every user's data and the token digests.
    static func privateFiles() { umask(0o077) }

    /// Opens the store `settings` name (PostgreSQL with `database`, else the data folder's SQLite
    /// file), creating the data folder when `create` is true and migrating when `migrate` is.
    static func open(_ settings: ServerSettings, create: Bool, migrate: Bool = true) throws -> (DataDirectory, any SQLDatabase) {
        guard let url = settings.database else {
            let (dir, db) = try openSQLite(settings.dataDir, create: create, migrate: migrate)
            return (dir, db)
        }
        privateFiles()
        let dir = DataDirectory(path: settings.dataDir)
        if create { try dir.prepare() }
        let db = try PostgresDatabase(url: url, maxConnections: 2)
        if migrate {
            do { try db.migrate() } catch { db.close(); throw error }
        }
        return (dir, db)
    }

    /// Opens the data folder's SQLite database, creating and migrating it when `create` is true.
    static func openSQLite(_ path: String, create: Bool, migrate: Bool = true) throws -> (DataDirectory, Database) {
        privateFiles()
        let dir = DataDirectory(path: path)
        if create {
            try dir.prepare()
        } else if !FileManager.default.fileExists(atPath: dir.databasePath) {
            throw CLIError("no lightly-server database in \(dir.path) (expected \(dir.databasePath))")
        }
        let db = try Database(path: dir.databasePath, readerCount: 1)
        if migrate {
            do { try db.migrate() } catch { db.close(); throw error }
        }
        return (dir, db)
    }
}

// MARK: - token

struct Token: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list and revoke API tokens (works while the server runs).",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a token and print it (alone on stdout). It is shown only this once.")
        @OptionGroup var data: DataOptions
        @Option(help: "Token name (1-64 of A-Z a-z 0-9 - _ . @). Without --user, also the user's name (created if needed).")
        var name: String?
        @Option(help: ArgumentHelp("E-mail of an existing user (`user create`) to issue the token for; the token name defaults to the user's name.", valueName: "email"))
        var user: String?

        func validate() throws {
            if name == nil && user == nil { throw ValidationError("pass --name NAME, or --user EMAIL") }
        }

        func run() throws {
            let (_, db) = try DataFolder.open(try data.settings(), create: true)
            defer { db.close() }
            var tokenName = name ?? ""
            do {
                let tokens = TokenStore(database: db)
                if let user {
                    let email = try UserStore.normalize(email: user)
                    if name == nil {
                        guard let u = try UserStore(database: db).list().first(where: { $0.email == email }) else {
                            throw StorageError.notFound("no user with e-mail '\(email)' (create it with `lightly-server user create --email`)")
                        }
                        tokenName = u.name
                    }
                    Output.line(try tokens.create(name: tokenName, forUserWithEmail: email))
                } else {
                    Output.line(try tokens.create(name: tokenName))
                }
            } catch let e as StorageError where e.isUniqueViolation {
                throw CLIError("a token named '\(tokenName)' already exists (revoke it first, or pass another --name)")
            } catch let e as StorageError where e.kind == .invalidArgument || e.kind == .notFound {
                throw CLIError(e.message)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens: name, created, last used (never the token).")
        @OptionGroup var data: DataOptions
        @Flag(help: "Print JSON instead of a table.") var json = false

        func run() throws {
            let (_, db) = try DataFolder.open(try data.settings(), create: false)
            defer { db.close() }
            let infos = try TokenStore(database: db).list()
            if json {
                Output.line(try TokenListJSON.encode(infos))
                return
            }
            var rows = [["NAME", "CREATED", "LAST USED", "STATUS"]]
            for t in infos {
                rows.append([t.name, t.createdAt.iso8601, t.lastUsedAt?.iso8601 ?? "never",
                             t.revokedAt.map { "revoked " + $0.iso8601 } ?? "active"])
            }
            let widths = (0..<4).map { c in rows.map { $0[c].count }.max() ?? 0 }
            for r in rows {
                Output.line(r.enumerated().map { i, v in i == 3 ? v : v.padding(to: widths[i]) }.joined(separator: "  "))
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token by name. The user's data stays.")
        @OptionGroup var data: DataOptions
        @Argument(help: "The token name.") var name: String

        func run() throws {
            let (_, db) = try DataFolder.open(try data.settings(), create: false)
            defer { db.close() }
            guard try TokenStore(database: db).revoke(name: name) else {
                throw CLIError("no active token named '\(name)'")
            }
            Output.line("revoked token '\(name)'")
        }
    }
}

// MARK: - user

struct UserCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Create and list users with an e-mail (datasets are shared with users by e-mail).",
        subcommands: [Create.self, List.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a user with an e-mail; then `token create --user EMAIL` issues its token.")
        @OptionGroup var data: DataOptions
        @Option(help: ArgumentHelp("The user's e-mail (stored lowercased, unique).", valueName: "email")) var email: String
        @Option(help: "The user's name (default: the e-mail; 1-64 of A-Z a-z 0-9 - _ . @).") var name: String?

        func run() throws {
            let (_, db) = try DataFolder.open(try data.settings(), create: true)
            defer { db.close() }
            do {
                let id = try UserStore(database: db).create(email: email, name: name)
                Output.line("created user \(name ?? email.lowercased()) <\(email.lowercased())> (id \(id))")
            } catch let e as StorageError where e.isUniqueViolation || e.kind == .invalidArgument {
                throw CLIError(e.message)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users: name, e-mail, created, active tokens.")
        @OptionGroup var data: DataOptions
        @Flag(help: "Print JSON instead of a table.") var json = false

        func run() throws {
            let (_, db) = try DataFolder.open(try data.settings(), create: false)
            defer { db.close() }
            let users = try UserStore(database: db).list()
            if json {
                struct Item: Encodable { var id: String; var name: String; var email: String?; var createdAt: Date; var activeTokens: Int }
                let encoder = JSONEncoder()
                encoder.dateEncodingStrategy = .iso8601
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                let items = users.map { Item(id: $0.id, name: $0.name, email: $0.email, createdAt: $0.createdAt, activeTokens: $0.activeTokens) }
                Output.line(String(decoding: try encoder.encode(items), as: UTF8.self))
                return
            }
            var rows = [["NAME", "EMAIL", "CREATED", "TOKENS"]]
            for u in users { rows.append([u.name, u.email ?? "-", u.createdAt.iso8601, "\(u.activeTokens)"]) }
            let widths = (0..<4).map { c in rows.map { $0[c].count }.max() ?? 0 }
            for r in rows {
                Output.line(r.enumerated().map { i, v in i == 3 ? v : v.padding(to: widths[i]) }.joined(separator: "  "))
            }
        }
    }
}

enum TokenListJSON {
    struct Item: Encodable {
        var name: String
        var createdAt: Date
        var lastUsedAt: Date?
        var revokedAt: Date?
        var active: Bool
    }

    static func encode(_ infos: [TokenInfo]) throws -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let items = infos.map { Item(name: $0.name, createdAt: $0.createdAt, lastUsedAt: $0.lastUsedAt,
                                     revokedAt: $0.revokedAt, active: $0.isActive) }
        return String(decoding: try encoder.encode(items), as: UTF8.self)
    }
}

// MARK: - migrate, backup, settings

struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending schema migrations and print their names.")
    @OptionGroup var data: DataOptions

    func run() throws {
        let (_, db) = try DataFolder.open(try data.settings(), create: true, migrate: false)
        defer { db.close() }
        let applied = try db.migrate()
        for name in applied { Output.line("applied \(name)") }
        Output.line("schema is at version \(try db.schemaVersion())" + (applied.isEmpty ? " (nothing to apply)" : ""))
    }
}

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the database to FILE with SQLite's online backup (safe while serving).",
        discussion: "Blobs (<data-dir>/blobs) and signing.key are plain files: copy them separately.")
    @OptionGroup var data: DataOptions
    @Option(name: .customLong("to"), help: ArgumentHelp("Destination file (replaced atomically).", valueName: "file"))
    var destination: String

    func run() throws {
        let settings = try data.settings()
        guard settings.database == nil else {
            throw CLIError("backup copies the SQLite file; for PostgreSQL use pg_dump (or the server's own backups)")
        }
        // No migration: a backup must copy the database exactly as it is.
        let (_, db) = try DataFolder.openSQLite(settings.dataDir, create: false, migrate: false)
        defer { db.close() }
        try db.backup(to: destination)
        Output.line("backed up \(db.path) to \(destination)")
    }
}

struct Settings: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the effective settings (defaults < config file < environment < flags) as TOML.")
    @OptionGroup var data: DataOptions

    func run() throws {
        let s = try data.settings()
        for key in ServerSettings.Key.allCases {
            var v = key.value(in: s)
            if key.isSecret && !v.isEmpty { v = "(set, not shown)" }
            if key == .database && !v.isEmpty { v = PostgresDatabase.redacted(url: v) }
            let isNumber = Int(v) != nil || Double(v) != nil
            Output.line("\(key.rawValue) = \(isNumber ? v : "\"\(v.replacingBackslashesAndQuotes())\"")")
        }
    }
}

// MARK: - Helpers

extension Date {
    var iso8601: String { formatted(.iso8601) }
}

extension String {
    func padding(to width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
    func replacingBackslashesAndQuotes() -> String {
        var out = ""
        for c in self {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            default: out.append(c)
            }
        }
        return out
    }
}
