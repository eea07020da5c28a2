import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization

/// Bytes sent so far and the total, reported while an upload runs.
public typealias UploadProgressHandler = @Sendable (_ sent: Int64, _ total: Int64) -> Void

/// A PUT with upload progress, through the classic delegate API (available on Linux too).
final class ProgressUpload: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    // @unchecked: every mutable field is behind `lock`.
    private let lock = Mutex<(continuation: CheckedContinuation<(Data, HTTPURLResponse), any Error>?, data: Data, response: HTTPURLResponse?)>((nil, Data(), nil))
    private let progress: UploadProgressHandler

    init(progress: @escaping UploadProgressHandler) { self.progress = progress }

    static func put(url: URL, body: Data, timeout: TimeInterval, progress: @escaping UploadProgressHandler) async throws -> (Data, HTTPURLResponse) {
        let delegate = ProgressUpload(progress: progress)
        let session = URLSession(configuration: .default, delegate: delegate, delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = "PUT"
        return try await withCheckedThrowingContinuation { c in
            delegate.lock.withLock { $0.continuation = c }
            session.uploadTask(with: request, from: body).resume()
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didSendBodyData bytesSent: Int64,
                    totalBytesSent: Int64, totalBytesExpectedToSend: Int64) {
        progress(totalBytesSent, totalBytesExpectedToSend)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        lock.withLock { $0.data.append(data) }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        let (c, data) = lock.withLock { s -> (CheckedContinuation<(Data, HTTPURLResponse), any Error>?, Data) in
            let c = s.continuation
            s.continuation = nil
            return (c, s.data)
        }
        if let error {
            c?.resume(throwing: LightlyClientError.transport(error.localizedDescription))
        } else if let http = task.response as? HTTPURLResponse {
            c?.resume(returning: (data, http))
        } else {
            c?.resume(throwing: LightlyClientError.invalidResponse("no HTTP response"))
        }
    }
}
