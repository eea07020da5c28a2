import Foundation
import PackagePlugin

/// Build-tool plugin: embeds every file of `<package>/webui/` (the web page's HTML, CSS,
/// JavaScript modules and icons) into the target as `EmbeddedWebAssets.swift` at build time, so
/// the server binary serves its page without any file next to it.
///
/// Planned like `EmbedMigrations`: the inputs are the folder itself (its modification time
/// changes when a file is added, removed or renamed) and each file known at planning time
/// (content edits); the generator lists the folder itself. `WebUITests` checks that the
/// embedded set equals the folder, which catches a stale incremental build.
@main
struct EmbedWebAssets: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let folder = context.package.directoryURL.appending(path: "webui")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let files = names.filter { !$0.hasPrefix(".") }.sorted().map { folder.appending(path: $0) }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedWebAssets.swift")
        return [
            .buildCommand(
                displayName: "Embedding web assets into \(target.name)",
                executable: try context.tool(named: "EmbedWebAssetsGenerator").url,
                arguments: [output.path, folder.path],
                inputFiles: [folder] + files,
                outputFiles: [output]
            ),
        ]
    }
}
