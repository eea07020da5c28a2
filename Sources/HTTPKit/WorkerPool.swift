#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Synchronization

/// A fixed set of dedicated threads that run handler jobs in FIFO order.
///
/// Handlers are synchronous and may block (SQLite, disk). Running them on Dispatch's shared
/// pool would let a few slow handlers starve every connection queue, so they get
/// their own threads: at most `count` handlers run at once, the rest wait in the queue.
final class WorkerPool: Sendable {
    typealias Job = @Sendable () -> Void

    private struct State {
        var jobs: [Job?] = []
        var head = 0
        var stopping = false
    }

    private let state = Mutex(State())
    private let available = DispatchSemaphore(value: 0)
    private let exited = DispatchSemaphore(value: 0)
    let count: Int

    init(count: Int, name: String) {
        self.count = max(1, count)
        for i in 0..<self.count {
            let box = Unmanaged.passRetained(ThreadContext(pool: self, name: "\(name)-\(i)"))
            var tid = pthread_t()
            let rc = pthread_create(&tid, nil, { raw in
                guard let raw else { return nil }
                let ctx = Unmanaged<ThreadContext>.fromOpaque(raw).takeRetainedValue()
                ctx.pool.run()
                return nil
            }, box.toOpaque())
            if rc == 0 {
                pthread_detach(tid)
            } else {
                box.release()
                exited.signal()
            }
        }
    }

    /// Enqueues a job. After ``stop()``, jobs are dropped.
    func submit(_ job: @escaping Job) {
        let accepted = state.withLock { s -> Bool in
            guard !s.stopping else { return false }
            s.jobs.append(job)
            return true
        }
        if accepted { available.signal() }
    }

    /// Lets queued jobs finish, then ends the threads; waits up to `timeout` for them.
    func stop(timeout: DispatchTime) {
        state.withLock { $0.stopping = true }
        for _ in 0..<count { available.signal() }
        for _ in 0..<count where exited.wait(timeout: timeout) == .timedOut { break }
    }

    private func run() {
        while true {
            available.wait()
            let job: Job?? = state.withLock { s in
                if s.head < s.jobs.count {
                    let j = s.jobs[s.head]
                    s.jobs[s.head] = nil
                    s.head += 1
                    if s.head == s.jobs.count {
                        s.jobs.removeAll(keepingCapacity: s.jobs.capacity <= 4096)
                        s.head = 0
                    } else if s.head >= 1024 && s.head * 2 >= s.jobs.count {
                        s.jobs.removeSubrange(0..<s.head)
                        s.head = 0
                    }
                    return .some(j)
                }
                return s.stopping ? nil : .some(nil)
            }
            switch job {
            case .none:
                exited.signal()
                return
            case .some(.none):
                continue
            case .some(.some(let j)):
                j()
            }
        }
    }
}

private final class ThreadContext: Sendable {
    let pool: WorkerPool
    let name: String
    init(pool: WorkerPool, name: String) { self.pool = pool; self.name = name }
}
