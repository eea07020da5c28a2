import Foundation
import PackagePlugin

/// Build-tool plugin: embeds `<package>/migrations/NNNN_name.sql` into the target as
/// `EmbeddedMigrations.swift` at build time, so the binary carries its schema and needs no
/// files next to it.
///
/// SwiftPM evaluates build-tool plugins on every build, so the command's inputs track the folder:
/// editing, adding or removing a migration re-runs the generator.
@main
struct EmbedMigrations: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let folder = context.package.directoryURL.appending(path: "migrations")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let files = names.filter { $0.hasSuffix(".sql") }.sorted().map { folder.appending(path: $0) }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedMigrations.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(files.count) migration(s) into \(target.name)",
                executable: try context.tool(named: "EmbedMigrationsGenerator").url,
                arguments: [output.path] + files.map(\.path),
                inputFiles: files,
                outputFiles: [output]
            ),
        ]
    }
}
