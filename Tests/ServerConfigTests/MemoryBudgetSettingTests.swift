import ServerConfig
import Testing

/// `memory_budget`: sizes with units, `auto`, and the three sources.
@Suite struct MemoryBudgetSettingTests {
    @Test func sizesWithUnits() {
        #expect(ServerSettings.parseByteSize("8GiB") == 8 << 30)
        #expect(ServerSettings.parseByteSize("8 gib") == 8 << 30)
        #expect(ServerSettings.parseByteSize("512MiB") == 512 << 20)
        #expect(ServerSettings.parseByteSize("2G") == 2 << 30)
        #expect(ServerSettings.parseByteSize("1.5GiB") == 3 << 29)
        #expect(ServerSettings.parseByteSize("3GB") == 3_000_000_000)
        #expect(ServerSettings.parseByteSize("1_000") == 1000)
        #expect(ServerSettings.parseByteSize("64") == 64)
        #expect(ServerSettings.parseByteSize("64B") == 64)
        for bad in ["", "GiB", "8 GiBs", "-1", "1.2.3G", "8XB", "1e30", "99999999999TiB"] {
            #expect(ServerSettings.parseByteSize(bad) == nil, "\(bad)")
        }
    }

    @Test func autoByDefaultAndFromEverySource() throws {
        #expect(ServerSettings.defaults.memoryBudget == nil)
        #expect(ServerSettings.Key.memoryBudget.value(in: .defaults) == "auto")
        let file = try ConfigFile.parse(#"memory_budget = "4GiB""#, source: "t.toml")
        #expect(try ServerSettings.resolve(file: file).memoryBudget == 4 << 30)
        let env = ["LIGHTLY_SERVER_MEMORY_BUDGET": "512MiB"]
        #expect(try ServerSettings.resolve(file: file, environment: env).memoryBudget == 512 << 20)
        let s = try ServerSettings.resolve(file: file, environment: env, flags: [.memoryBudget: "auto"])
        #expect(s.memoryBudget == nil)
        #expect(ServerSettings.Key.memoryBudget.flagName == "--memory-budget")
        #expect(ServerSettings.Key.memoryBudget.environmentName == "LIGHTLY_SERVER_MEMORY_BUDGET")
        #expect(ServerSettings.Key.memoryBudget.value(in: try ServerSettings.resolve(flags: [.memoryBudget: "1KiB"])) == "1024")
    }

    @Test func badValuesNameTheirSource() {
        #expect(throws: ConfigError.self) { try ServerSettings.resolve(flags: [.memoryBudget: "lots"]) }
        #expect(throws: ConfigError.self) { try ServerSettings.resolve(environment: ["LIGHTLY_SERVER_MEMORY_BUDGET": "0"]) }
        do {
            _ = try ServerSettings.resolve(flags: [.memoryBudget: "8 parsecs"])
            Issue.record("accepted a bad size")
        } catch let e as ConfigError {
            #expect(e.source == "option --memory-budget" && e.message.contains("memory_budget"))
        } catch { Issue.record("\(error)") }
    }

    @Test func autoIsHalfTheMemoryOrTheContainerLimit() {
        #expect(ServerSettings.defaultMemoryBudget(physicalBytes: 24 << 30, containerLimitBytes: nil) == 12 << 30)
        #expect(ServerSettings.defaultMemoryBudget(physicalBytes: 24 << 30, containerLimitBytes: 4 << 30) == 2 << 30)
        #expect(ServerSettings.defaultMemoryBudget(physicalBytes: 24 << 30, containerLimitBytes: 64 << 30) == 12 << 30)
        #expect(ServerSettings.defaultMemoryBudget(physicalBytes: 128 << 20, containerLimitBytes: nil) == 256 << 20)
    }
}
