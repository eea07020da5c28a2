import Dispatch

/// One result slot per parallel task. Task i writes only slot i, and all reads happen after
/// `concurrentPerform` returns (which orders them after every write), so no lock is needed.
final class ParallelSlots<T>: @unchecked Sendable {
    private let storage: UnsafeMutableBufferPointer<T?>

    init(count: Int) {
        storage = .allocate(capacity: count)
        storage.initialize(repeating: nil)
    }

    deinit {
        storage.deinitialize()
        storage.deallocate()
    }

    func set(_ i: Int, _ value: T?) { storage[i] = value }
    func get(_ i: Int) -> T? { storage[i] }
}

/// Runs `body(0..<count)` on up to `count` threads and returns when all are done.
func concurrentPerformFixed(_ count: Int, _ body: @Sendable (Int) -> Void) {
    if count == 1 { body(0); return }
    DispatchQueue.concurrentPerform(iterations: count, execute: body)
}
