// Keep this a one-line call: closures written here would be MainActor-isolated and trap when a
// DispatchSource runs them on another queue.
LightlyServerCommand.main()
