#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The JSON coding used on the wire by the server (and usable by clients).
///
/// Decoding is strict (``JSONValue/parse(_:)``: no `NaN`/`Infinity`) and keeps the document
/// order of free-form objects; encoding writes compact JSON, object members in `CodingKeys`
/// order and ``JSONValue`` objects in their stored order, and leaves `/` unescaped.
public enum WireJSON {
    /// Encodes a value as compact UTF-8 JSON.
    ///
    /// The bytes are written directly as the value encodes itself; a value that encodes itself
    /// in a way only a tree reproduces (nested containers handed out early, see
    /// `JSONDirectEncoder.swift`) goes through ``JSONValueEncoder`` instead. Both give the same bytes.
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        if let bytes = try DirectJSONEncoder.encode(value) { return bytes }
        return try JSONValueEncoder().encodeTree(value).serializedBytes()
    }

    /// Decodes a value from UTF-8 JSON.
    /// - Throws: ``JSONSyntaxError`` for malformed JSON, `DecodingError` for a schema mismatch.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws -> T {
        let tree = try JSONValue.parse(bytes)
        return try JSONValueDecoder().decode(type, from: tree)
    }

    /// Decodes a value from an already parsed tree.
    public static func decode<T: Decodable>(_ type: T.Type, from tree: JSONValue) throws -> T {
        try JSONValueDecoder().decode(type, from: tree)
    }

    /// A readable one-line explanation of a decoding failure that names the field, e.g.
    /// `missing required field "fileName"` or `field "metaData.shape[2]": expected Int, found a string`.
    public static func describe(_ error: any Error) -> String {
        if let e = error as? JSONSyntaxError { return e.description }
        guard let e = error as? DecodingError else { return "\(error)" }
        func path(_ p: [any CodingKey]) -> String {
            var s = ""
            for k in p {
                if let i = k.intValue, k.stringValue == String(i) { s += "[\(i)]" }
                else { s += s.isEmpty ? k.stringValue : "." + k.stringValue }
            }
            return s.isEmpty ? "(body)" : s
        }
        switch e {
        case .keyNotFound(let key, let ctx):
            return "missing required field \"\(path(ctx.codingPath + [key]))\""
        case .valueNotFound(let type, let ctx):
            return "field \"\(path(ctx.codingPath))\" must not be null (expected \(type))"
        case .typeMismatch(let type, let ctx):
            return "field \"\(path(ctx.codingPath))\": expected \(type), \(ctx.debugDescription)"
        case .dataCorrupted(let ctx):
            return "field \"\(path(ctx.codingPath))\": \(ctx.debugDescription)"
        @unknown default:
            return "\(e)"
        }
    }
}
