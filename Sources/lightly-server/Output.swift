#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Unbuffered writes to stdout/stderr. `write(2)` goes straight to the descriptor, so a line is
/// visible at once even when stdout is a pipe or a file (no stdio buffer to flush), and Swift 6
/// forbids touching the `stdout` global anyway.
enum Output {
    /// Writes `text` + newline to standard output.
    static func line(_ text: String) { write(STDOUT_FILENO, text + "\n") }
    /// Writes `text` + newline to standard error.
    static func error(_ text: String) { write(STDERR_FILENO, text + "\n") }

    static func write(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return }
            bytes = bytes.dropFirst(n)
        }
    }
}
