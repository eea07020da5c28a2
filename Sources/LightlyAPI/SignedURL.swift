#if canImport(FoundationEssentials)
import LightlyCore
import FoundationEssentials
#else
import Foundation
#endif
import COpenSSL
import HTTPKit
import LightlyStorage
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a signed URL points at: `/signed/<kind>/<datasetId>/<objectId>/<variant>`.
/// Kinds in use: `sample` (variants `full`, `thumbnail`) and `csv` (jobs module).
public struct SignedTarget: Sendable, Hashable {
    public var kind: String
    public var datasetId: String
    public var objectId: String
    public var variant: String
    public init(kind: String, datasetId: String, objectId: String, variant: String) {
        self.kind = kind; self.datasetId = datasetId; self.objectId = objectId; self.variant = variant
    }
    /// The canonical path that is signed.
    public var path: String { "/signed/\(kind)/\(datasetId)/\(objectId)/\(variant)" }
}

/// Handles a verified signed request. PUT handlers must answer exactly 200 (docs/protocol.md §6).
public typealias SignedHandler = @Sendable (SignedTarget, RequestContext) throws -> HTTPResponse

/// The PUT and GET handlers of one signed-URL kind.
public struct SignedKindHandler: Sendable {
    public let put: SignedHandler?
    public let get: SignedHandler?
}

/// Mints and verifies signed URLs (docs/protocol.md §6):
/// `<base>/signed/<kind>/<datasetId>/<objectId>/<variant>?expires=<unix s>&sig=<hex>` where
/// `sig = hex(HMAC-SHA256(secret, METHOD + "\n" + path + "\n" + expires))`. The URL itself is
/// the authorisation (no token), bound to one method, one object and an expiry.
///
/// ```swift
/// let url = signer.url(base: ctx.baseURL, method: .PUT,
///                      target: SignedTarget(kind: "csv", datasetId: ds, objectId: emb, variant: "csv"),
///                      ttl: 3600)
/// ```
public struct URLSigner: Sendable {
    private let secret: [UInt8]

    /// - Parameter secret: the HMAC key (32 random bytes from `signing.key`).
    public init(secret: [UInt8]) {
        precondition(!secret.isEmpty, "signing secret must not be empty")
        self.secret = secret
    }

    /// Hex HMAC-SHA256 over `METHOD \n path \n expires`.
    public func signature(method: HTTPMethod, path: String, expires: Int64) -> String {
        Crypto.hex(mac(method: method, path: path, expires: expires))
    }

    private func mac(method: HTTPMethod, path: String, expires: Int64) -> [UInt8] {
        let message = Array("\(method.rawValue)\n\(path)\n\(expires)".utf8)
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var len: UInt32 = 0
        secret.withUnsafeBufferPointer { k in
            message.withUnsafeBufferPointer { m in
                _ = HMAC(EVP_sha256(), k.baseAddress, Int32(k.count), m.baseAddress, m.count, &out, &len)
            }
        }
        return Array(out.prefix(Int(len)))
    }

    /// An absolute signed URL.
    /// - Parameters:
    ///   - base: scheme and authority, no trailing slash (`RequestContext.baseURL`).
    ///   - ttl: lifetime in seconds.
    ///   - now: Unix seconds (tests pass a fixed value).
    public func url(base: String, method: HTTPMethod, target: SignedTarget, ttl: Int,
                    now: Int64 = Timestamp.nowSeconds()) -> String {
        let expires = now + Int64(ttl)
        let sig = signature(method: method, path: target.path, expires: expires)
        return "\(base)\(target.path)?expires=\(expires)&sig=\(sig)"
    }

    /// Checks a signed request. - Throws: 403 `FORBIDDEN` when the signature is missing or
    /// wrong, or when the URL has expired (the message says so).
    public func verify(method: HTTPMethod, path: String, expires: String?, sig: String?,
                       now: Int64 = Timestamp.nowSeconds()) throws {
        guard let expires, let exp = Int64(expires), let sig, !sig.isEmpty, let given = Crypto.unhex(sig) else {
            throw APIError.forbidden("signed URL is missing a valid expires/sig")
        }
        let expected = mac(method: method, path: path, expires: exp)
        let ok = given.count == expected.count && given.withUnsafeBufferPointer { g in
            expected.withUnsafeBufferPointer { e in CRYPTO_memcmp(g.baseAddress, e.baseAddress, e.count) == 0 }
        }
        guard ok else { throw APIError.forbidden("signed URL signature does not match") }
        guard exp >= now else { throw APIError.forbidden("signed URL expired at \(exp) (now \(now))") }
    }
}
