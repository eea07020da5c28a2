#if canImport(Glibc)
import Glibc
#endif
import HTTPKit
@testable import LightlyAPI
import LightlyStorage
import LightlyWire
import Logging
import Testing

/// The one error mapping: a locked database is 503, a full disk (however it shows) is 507, both
/// with the JSON error body.
@Suite struct StorageErrorMappingTests {
    static let cases: [(String, any Error, Int, String)] = [
        ("SQLITE_BUSY", StorageError(code: 5, message: "database is locked"), 503, "SERVICE_UNAVAILABLE"),
        ("SQLITE_LOCKED", StorageError(code: 6, message: "table is locked"), 503, "SERVICE_UNAVAILABLE"),
        ("SQLITE_FULL", StorageError(code: 13, message: "database or disk is full"), 507, "INSUFFICIENT_STORAGE"),
        ("SQLITE_IOERR_WRITE + ENOSPC", StorageError(code: 10 | (3 << 8), message: "disk I/O error", systemErrno: ENOSPC), 507, "INSUFFICIENT_STORAGE"),
        ("SQLITE_IOERR_FSYNC + EDQUOT", StorageError(code: 10 | (4 << 8), message: "disk I/O error", systemErrno: EDQUOT), 507, "INSUFFICIENT_STORAGE"),
        ("SQLITE_IOERR_WRITE + EIO", StorageError(code: 10 | (3 << 8), message: "disk I/O error", systemErrno: EIO), 500, "INTERNAL_ERROR"),
        ("storage io ENOSPC", StorageError(kind: .io, code: ENOSPC, message: "write"), 507, "INSUFFICIENT_STORAGE"),
        ("file write ENOSPC", FileIOError(call: "write", path: "blobs/x", code: ENOSPC), 507, "INSUFFICIENT_STORAGE"),
        ("file write EDQUOT", FileIOError(call: "write", path: "blobs/x", code: EDQUOT), 507, "INSUFFICIENT_STORAGE"),
        ("file write EFBIG", FileIOError(call: "write", path: "blobs/x", code: EFBIG), 507, "INSUFFICIENT_STORAGE"),
        ("file write EIO", FileIOError(call: "write", path: "blobs/x", code: EIO), 500, "INTERNAL_ERROR"),
    ]

    @Test func storageErrorsMapToTheirStatus() throws {
        let t = try TestApp.make()
        var log = Logger(label: "test"); log.logLevel = .critical
        let request = HTTPRequest(method: .POST, target: "/v1/datasets", headers: [:], body: .empty)
        for (name, error, status, code) in Self.cases {
            let r = TestResponse(response: t.app.errorResponse(for: error, request: request, requestID: "r-1", logger: log))
            #expect(r.status == status, "\(name)")
            #expect(r.errorCode == code, "\(name): \(r.text)")
        }
    }
}
