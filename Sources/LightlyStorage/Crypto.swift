import COpenSSL
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Crypto

/// The few primitives the server needs, over the system OpenSSL (libcrypto).
///
/// ```swift
/// let token = "lt_" + Crypto.hex(Crypto.randomBytes(32))
/// let digest = Crypto.sha256(Array(token.utf8))
/// let ok = Crypto.constantTimeEquals(digest, stored)
/// ```
public enum Crypto {
    /// SHA-256 of `bytes` (FIPS 180-4).
    /// - Returns: 32 bytes.
    /// - Complexity: O(n).
    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        var len: UInt32 = 0
        let ok = bytes.withUnsafeBytes { src in
            out.withUnsafeMutableBufferPointer { dst in
                EVP_Digest(src.baseAddress, src.count, dst.baseAddress, &len, EVP_sha256(), nil)
            }
        }
        // EVP_Digest with a built-in digest fails only when OpenSSL cannot allocate memory. Returning
        // a wrong digest would silently break authentication, so stop instead.
        precondition(ok == 1 && len == 32, "EVP_Digest(SHA-256) failed")
        return out
    }

    /// HMAC-SHA-256 of `message` under `key` (RFC 2104).
    /// - Returns: 32 bytes.
    public static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var len: UInt32 = 0
        let p = key.withUnsafeBytes { k in
            message.withUnsafeBytes { m in
                out.withUnsafeMutableBufferPointer { dst in
                    HMAC(EVP_sha256(), k.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(k.count),
                         m.baseAddress?.assumingMemoryBound(to: UInt8.self), m.count, dst.baseAddress, &len)
                }
            }
        }
        precondition(p != nil && len == 32, "HMAC-SHA-256 failed")
        return Array(out.prefix(Int(len)))
    }

    /// `n` cryptographically secure random bytes from OpenSSL's `RAND_bytes`, falling back to the
    /// kernel's `/dev/urandom`.
    /// - Throws: `StorageError` (kind `.io`) only if both sources fail.
    public static func secureRandomBytes(_ n: Int) throws -> [UInt8] {
        guard n > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: n)
        let ok = out.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32($0.count)) }
        if ok == 1 { return out }
        // Fallback: the kernel's CSPRNG (getrandom(2) is not exported by the Glibc module).
        let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StorageError.io("RAND_bytes failed and /dev/urandom cannot be opened", errno: errno) }
        defer { close(fd) }
        var filled = 0
        while filled < n {
            let r = out.withUnsafeMutableBytes { buf -> Int in
                guard let base = buf.baseAddress else { return 0 }
                return read(fd, base + filled, n - filled)
            }
            if r < 0 && errno == EINTR { continue }
            guard r > 0 else { throw StorageError.io("RAND_bytes and /dev/urandom both failed", errno: r < 0 ? errno : EIO) }
            filled += r
        }
        return out
    }

    /// `n` cryptographically secure random bytes (`RAND_bytes`, then `/dev/urandom`).
    ///
    /// Never fails silently: if neither source can deliver, the process stops rather than hand
    /// out predictable bytes. Use `secureRandomBytes(_:)` to get an error instead.
    public static func randomBytes(_ n: Int) -> [UInt8] {
        do { return try secureRandomBytes(n) } catch {
            preconditionFailure("no source of secure random bytes: \(error)")
        }
    }

    /// Compares two byte strings in time that depends only on their length (`CRYPTO_memcmp`).
    /// Different lengths compare unequal at once (lengths are not secret here: digests are fixed-size).
    public static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        guard !a.isEmpty else { return true }
        return a.withUnsafeBytes { x in b.withUnsafeBytes { y in CRYPTO_memcmp(x.baseAddress, y.baseAddress, x.count) == 0 } }
    }

    /// Lowercase hexadecimal, two digits per byte.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses hexadecimal (either case); `nil` for odd length or a non-hex character.
    public static func unhex(_ s: String) -> [UInt8]? {
        let u = Array(s.utf8)
        guard u.count % 2 == 0 else { return nil }
        func v(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 97...102: c - 87
            case 65...70: c - 55
            default: nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(u.count / 2)
        var i = 0
        while i < u.count {
            guard let h = v(u[i]), let l = v(u[i + 1]) else { return nil }
            out.append(h << 4 | l)
            i += 2
        }
        return out
    }
}
