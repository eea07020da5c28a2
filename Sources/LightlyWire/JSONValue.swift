#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Free-form JSON (`metaData`, `exif`, `customMetaData`, `changes`, …), kept verbatim.
///
/// Objects keep their members in document order (``JSONObject``), integers stay integers
/// (`"nSamples": 100` does not become `100.0`), and floats keep their shortest round-trip
/// form. The strict parser (``JSONValue/parse(_:)``) rejects the bare `NaN` / `Infinity`
/// tokens that Python's `json` module writes for non-finite floats (docs/protocol.md §1); the server
/// answers those with 400.
///
/// ```swift
/// let v = try JSONValue.parse(Array(#"{"b":1,"a":[true,null,1.5]}"#.utf8))
/// v.serialized()   // #"{"b":1,"a":[true,null,1.5]}"# (same order)
/// v["a"]?[2]       // .double(1.5)
/// ```
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case integer(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// Member lookup on an object (first match); nil for other kinds.
    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    /// Element lookup on an array; nil when out of range or not an array.
    public subscript(index: Int) -> JSONValue? {
        if case .array(let a) = self, a.indices.contains(index) { return a[index] }
        return nil
    }

    /// The value as an integer when it is an integer, or a float with an integral value.
    public var intValue: Int64? {
        switch self {
        case .integer(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 9.2e18: return Int64(d)
        default: return nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case .integer(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var objectValue: JSONObject? { if case .object(let o) = self { return o }; return nil }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    public var isNull: Bool { if case .null = self { return true }; return false }
}

/// A JSON object whose members keep their document order. Duplicate keys are kept as sent;
/// lookups return the first.
public struct JSONObject: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public struct Member: Sendable, Hashable {
        public var key: String
        public var value: JSONValue
        public init(key: String, value: JSONValue) { self.key = key; self.value = value }
    }
    public var members: [Member]

    public init(members: [Member] = []) { self.members = members }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        members = elements.map { Member(key: $0.0, value: $0.1) }
    }

    public var count: Int { members.count }
    public var isEmpty: Bool { members.isEmpty }
    public var keys: [String] { members.map(\.key) }

    public subscript(key: String) -> JSONValue? {
        get { members.first { $0.key == key }?.value }
        set {
            if let i = members.firstIndex(where: { $0.key == key }) {
                if let newValue { members[i].value = newValue } else { members.remove(at: i) }
            } else if let newValue {
                members.append(Member(key: key, value: newValue))
            }
        }
    }

    public func makeIterator() -> IndexingIterator<[Member]> { members.makeIterator() }
}

// MARK: - Literals

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(JSONObject(members: elements.map { .init(key: $0.0, value: $0.1) }))
    }
}

// MARK: - Codable

extension JSONValue: Codable {
    /// Decodes through any `Decoder`. With ``WireJSON`` the source order of object members is
    /// kept; through Foundation's `JSONDecoder` it is not (members then come sorted by key).
    public init(from decoder: any Decoder) throws {
        if let raw = (decoder as? _JSONValueDecoderAccess)?.currentRawValue {
            self = raw
            return
        }
        if let c = try? decoder.container(keyedBy: AnyCodingKey.self) {
            var members: [JSONObject.Member] = []
            for k in c.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) {
                members.append(.init(key: k.stringValue, value: try c.decode(JSONValue.self, forKey: k)))
            }
            self = .object(JSONObject(members: members))
            return
        }
        if var c = try? decoder.unkeyedContainer() {
            var out: [JSONValue] = []
            while !c.isAtEnd { out.append(try c.decode(JSONValue.self)) }
            self = .array(out)
            return
        }
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .integer(i) }
        else if let d = try? c.decode(Double.self) {
            guard d.isFinite else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "non-finite number")
            }
            self = .double(d)
        }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else { throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a JSON value") }
    }

    public func encode(to encoder: any Encoder) throws {
        if let sink = encoder as? _JSONValueEncoderAccess {
            sink.storeRaw(self)
            return
        }
        switch self {
        case .null: var c = encoder.singleValueContainer(); try c.encodeNil()
        case .bool(let b): var c = encoder.singleValueContainer(); try c.encode(b)
        case .integer(let i): var c = encoder.singleValueContainer(); try c.encode(i)
        case .double(let d): var c = encoder.singleValueContainer(); try c.encode(d)
        case .string(let s): var c = encoder.singleValueContainer(); try c.encode(s)
        case .array(let a):
            var c = encoder.unkeyedContainer()
            for v in a { try c.encode(v) }
        case .object(let o):
            var c = encoder.container(keyedBy: AnyCodingKey.self)
            for m in o.members { try c.encode(m.value, forKey: AnyCodingKey(m.key)) }
        }
    }
}

/// A coding key made from any string or index.
public struct AnyCodingKey: CodingKey, Hashable, Sendable {
    public var stringValue: String
    public var intValue: Int?
    public init(_ s: String) { stringValue = s; intValue = nil }
    public init(stringValue: String) { self.stringValue = stringValue; intValue = nil }
    public init(intValue: Int) { stringValue = String(intValue); self.intValue = intValue }
}

/// Implemented by ``WireJSON``'s decoder so ``JSONValue`` can take its subtree verbatim.
protocol _JSONValueDecoderAccess { var currentRawValue: JSONValue { get } }
/// Implemented by ``WireJSON``'s encoder so ``JSONValue`` can store itself verbatim.
protocol _JSONValueEncoderAccess { func storeRaw(_ value: JSONValue) }
