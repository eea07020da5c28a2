import LightlyCore
import Testing

/// The parsing of `--clock` modes. (Installing a mode is process-wide, so the behaviour of an
/// installed clock and seeded ids is tested with real server processes:
/// LightlyClientTests/ReproducibleRunTests.)
@Suite struct ServerClockTests {
    @Test func modesParse() {
        #expect(ServerClock.Mode(parsing: "system") == .system)
        #expect(ServerClock.Mode(parsing: "fixed:1700000000000") == .fixed(1_700_000_000_000))
        #expect(ServerClock.Mode(parsing: "step:5:10") == .step(start: 5, step: 10))
        for bad in ["", "fixed", "fixed:", "fixed:-1", "fixed:1:2", "step:1", "step:1:x", "System", "fixed:9007199254740993"] {
            #expect(ServerClock.Mode(parsing: bad) == nil, "\(bad)")
        }
        for m in [ServerClock.Mode.system, .fixed(3), .step(start: 1, step: 2)] {
            #expect(ServerClock.Mode(parsing: m.description) == m)
        }
    }

    @Test func theDefaultIsTheSystemClock() {
        // Nothing in the test process installs another clock.
        #expect(ServerClock.current == .system)
        #expect(abs(ServerClock.nowMillis() - ServerClock.systemMillis()) < 5_000)
    }
}
