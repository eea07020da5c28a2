// Kept to one line: closures written here would be MainActor-isolated (STYLE §2.5).
BenchServer.run(arguments: CommandLine.arguments)
