import Synchronization

/// Millisecond timestamps (docs/protocol.md §3), strictly increasing within the process so that
/// `lastModifiedAt` orders every change (the client picks the largest).
public enum Timestamp {
    private static let last = Atomic<Int64>(0)

    /// Unix epoch milliseconds, strictly greater than any value returned before.
    public static func now() -> Int64 {
        let wall = wallMillis()
        while true {
            let prev = last.load(ordering: .relaxed)
            let next = max(wall, prev + 1)
            if last.compareExchange(expected: prev, desired: next, ordering: .relaxed).exchanged { return next }
        }
    }

    public static func nowSeconds() -> Int64 { wallMillis() / 1000 }

    /// The wall clock in Unix epoch milliseconds, not forced to increase. For durations that
    /// must mean what they say (a job's `createdAt` … `finishedAt`): ``now()`` runs ahead of
    /// the wall clock while more than one call per millisecond arrives.
    /// `ServerClock`: the system clock unless `--clock` fixed or steps it.
    public static func wallMillis() -> Int64 { ServerClock.nowMillis() }
}
