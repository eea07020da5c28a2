#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

// Where the server's entity ids and timestamps come from. Process-wide: by default the system
// (random ids, the wall clock); `lightly-server serve --deterministic-ids SEED --clock …`
// installs a seeded id generator and a fixed or stepping clock at start-up, before any request,
// so that two runs of the same client script store the same ids and timestamps.

/// The clock of every timestamp the server writes (`Timestamp`, job times, token and user
/// creation), in Unix epoch milliseconds.
///
/// ```swift
/// ServerClock.install(try ServerClock.Mode(parsing: "fixed:1700000000000"))
/// ServerClock.nowMillis()   // 1700000000000, every time
/// ```
public enum ServerClock {
    /// How the clock moves.
    public enum Mode: Sendable, Equatable, CustomStringConvertible {
        /// The system's wall clock.
        case system
        /// Always this instant.
        case fixed(Int64)
        /// `start`, then `start + step`, `start + 2·step`, … : one step per read.
        case step(start: Int64, step: Int64)

        /// Parses `system`, `fixed:EPOCH_MS` or `step:START_MS:STEP_MS` (all ≥ 0, at most 2^53).
        public init?(parsing text: String) {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            func ms(_ s: String) -> Int64? {
                guard let v = Int64(s), v >= 0, v <= 1 << 53 else { return nil }
                return v
            }
            switch parts.first {
            case "system" where parts.count == 1: self = .system
            case "fixed" where parts.count == 2:
                guard let v = ms(parts[1]) else { return nil }
                self = .fixed(v)
            case "step" where parts.count == 3:
                guard let a = ms(parts[1]), let b = ms(parts[2]) else { return nil }
                self = .step(start: a, step: b)
            default: return nil
            }
        }

        public var description: String {
            switch self {
            case .system: "system"
            case .fixed(let v): "fixed:\(v)"
            case .step(let a, let b): "step:\(a):\(b)"
            }
        }
    }

    private static let mode = Mutex<Mode>(.system)
    private static let isSystem = Atomic<Bool>(true)
    private static let reads = Atomic<Int64>(0)

    /// Sets the clock for the whole process (restarting a stepping clock at its start).
    public static func install(_ m: Mode) {
        mode.withLock { $0 = m }
        reads.store(0, ordering: .relaxed)
        isSystem.store(m == .system, ordering: .relaxed)
    }

    /// The current mode.
    public static var current: Mode { mode.withLock { $0 } }

    /// Whether the system clock is in use (ids then carry the real creation second).
    public static var isSystemClock: Bool { isSystem.load(ordering: .relaxed) }

    /// Now, in Unix epoch milliseconds (a stepping clock advances by one step).
    public static func nowMillis() -> Int64 {
        if isSystem.load(ordering: .relaxed) { return systemMillis() }
        switch current {
        case .system: return systemMillis()
        case .fixed(let v): return v
        case .step(let start, let step):
            let k = reads.add(1, ordering: .relaxed).oldValue
            return start &+ step &* k
        }
    }

    /// The system's wall clock, whatever is installed (for file ages and timeouts).
    public static func systemMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

/// The source of the random part of entity ids (``ObjectID/generate(seconds:)``).
public enum IDSource {
    private static let seeded = Mutex<SplitMix64?>(nil)
    private static let isSeeded = Atomic<Bool>(false)

    /// With a seed: ids come from SplitMix64(seed), in the order they are made. nil: random.
    public static func install(seed: UInt64?) {
        seeded.withLock { $0 = seed.map { SplitMix64(seed: $0) } }
        isSeeded.store(seed != nil, ordering: .relaxed)
    }

    /// The next seeded value, or nil when ids are random.
    static func nextSeeded() -> UInt64? {
        guard isSeeded.load(ordering: .relaxed) else { return nil }
        return seeded.withLock { g -> UInt64? in g?.next() }
    }
}
