import Foundation
import PackagePlugin

/// Build-tool plugin: embeds `<package>/migrations/NNNN_name.sql` into the target as
/// `EmbeddedMigrations.swift` (and `migrations/postgres/NNNN_name.sql`, PostgreSQL's schema, as
/// `EmbeddedPostgresMigrations.swift`) at build time, so the binary carries its schema and needs
/// no files next to it.
///
/// SwiftPM evaluates this plugin only when it re-plans the build (the manifest or a target's
/// source list changed), so what runs on an ordinary incremental build is the command planned
/// last time. Its inputs are therefore the folder itself (its modification time changes when a
/// file is added, removed or renamed) plus each file known at planning time (content edits); the
/// generator lists the folder itself rather than trusting a list captured here.
/// Known gap: removing a migration fails the next incremental build with "missing inputs" until
/// SwiftPM re-plans (`touch Package.swift`); fresh builds (CI, Docker) are always exact, and
/// `MigrationTests.embeddedSetEqualsTheMigrationsFolder` catches a stale build.
@main
struct EmbedMigrations: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        // SQLite's migrations, and PostgreSQL's in their own folder: each becomes one enum,
        // named after its output file.
        let sets = [("migrations", "EmbeddedMigrations"), ("migrations/postgres", "EmbeddedPostgresMigrations")]
        return try sets.map { path, name in
            let folder = context.package.directoryURL.appending(path: path)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            let files = names.filter { $0.hasSuffix(".sql") }.sorted().map { folder.appending(path: $0) }
            let output = context.pluginWorkDirectoryURL.appending(path: name + ".swift")
            return .buildCommand(
                displayName: "Embedding \(path) into \(target.name)",
                executable: try context.tool(named: "EmbedMigrationsGenerator").url,
                arguments: [output.path, folder.path],
                inputFiles: [folder] + files,
                outputFiles: [output]
            )
        }
    }
}
