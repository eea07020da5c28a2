// Kept to one line: closures written here would be MainActor-isolated.
BenchServer.run(arguments: CommandLine.arguments)
