#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// A Decoder and an Encoder over ``JSONValue`` trees. They exist so that free-form objects
// keep their member order end to end (Foundation's JSONDecoder/JSONEncoder lose it) and so
// that `NaN`/`Infinity` are rejected by our own parser with a clear message.

// MARK: - Decoder

/// Decodes `Decodable` values from a ``JSONValue`` tree.
public struct JSONValueDecoder {
    public init() {}
    public func decode<T: Decodable>(_ type: T.Type, from tree: JSONValue) throws -> T {
        try T(from: _TreeDecoder(value: tree, codingPath: []))
    }
}

private func kindName(_ v: JSONValue) -> String {
    switch v {
    case .null: "null"
    case .bool: "a boolean"
    case .integer, .double: "a number"
    case .string: "a string"
    case .array: "an array"
    case .object: "an object"
    }
}

private struct _TreeDecoder: Decoder, _JSONValueDecoderAccess {
    let value: JSONValue
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    var currentRawValue: JSONValue { value }

    func mismatch(_ type: Any.Type) -> DecodingError {
        .typeMismatch(type, .init(codingPath: codingPath, debugDescription: "found \(kindName(value))"))
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let o) = value else {
            if case .null = value {
                throw DecodingError.valueNotFound([String: Any].self, .init(codingPath: codingPath, debugDescription: "found null"))
            }
            throw mismatch([String: Any].self)
        }
        return KeyedDecodingContainer(_KeyedContainer<Key>(object: o, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let a) = value else {
            if case .null = value {
                throw DecodingError.valueNotFound([Any].self, .init(codingPath: codingPath, debugDescription: "found null"))
            }
            throw mismatch([Any].self)
        }
        return _UnkeyedContainer(items: a, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { _SingleContainer(value: value, codingPath: codingPath) }
}

private struct _SingleContainer: SingleValueDecodingContainer {
    let value: JSONValue
    let codingPath: [any CodingKey]

    func mismatch(_ type: Any.Type) -> DecodingError {
        if case .null = value {
            return .valueNotFound(type, .init(codingPath: codingPath, debugDescription: "found null"))
        }
        return .typeMismatch(type, .init(codingPath: codingPath, debugDescription: "found \(kindName(value))"))
    }

    func decodeNil() -> Bool { value.isNull }
    func decode(_ type: Bool.Type) throws -> Bool { guard case .bool(let b) = value else { throw mismatch(type) }; return b }
    func decode(_ type: String.Type) throws -> String { guard case .string(let s) = value else { throw mismatch(type) }; return s }
    func decode(_ type: Double.Type) throws -> Double { guard let d = value.doubleValue else { throw mismatch(type) }; return d }
    func decode(_ type: Float.Type) throws -> Float { guard let d = value.doubleValue else { throw mismatch(type) }; return Float(d) }
    func integer<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        guard let i = value.intValue else {
            if case .double = value {
                throw DecodingError.typeMismatch(type, .init(codingPath: codingPath, debugDescription: "found a number with a fraction"))
            }
            throw mismatch(type)
        }
        guard let r = I(exactly: i) else {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "number \(i) does not fit in \(type)"))
        }
        return r
    }
    func decode(_ type: Int.Type) throws -> Int { try integer(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: _TreeDecoder(value: value, codingPath: codingPath)) }
}

private struct _KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let object: JSONObject
    let codingPath: [any CodingKey]
    let lookup: [String: JSONValue]

    init(object: JSONObject, codingPath: [any CodingKey]) {
        self.object = object
        self.codingPath = codingPath
        var d: [String: JSONValue] = [:]
        d.reserveCapacity(object.count)
        for m in object.members where d[m.key] == nil { d[m.key] = m.value }
        lookup = d
    }

    var allKeys: [Key] { object.members.compactMap { Key(stringValue: $0.key) } }
    func contains(_ key: Key) -> Bool { lookup[key.stringValue] != nil }

    func child(_ key: Key) throws -> _SingleContainer {
        guard let v = lookup[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing"))
        }
        return _SingleContainer(value: v, codingPath: codingPath + [key])
    }

    func decodeNil(forKey key: Key) throws -> Bool { try child(key).decodeNil() }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try child(key).decode(type) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try child(key).decode(type) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try child(key).decode(type) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try child(key).decode(type) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try child(key).decode(type) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try child(key).decode(type) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try child(key).decode(type) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try child(key).decode(type) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try child(key).decode(type) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try child(key).decode(type) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try child(key).decode(type) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try child(key).decode(type) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try child(key).decode(type) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try child(key).decode(type) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try child(key).decode(type) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        let c = try child(key)
        return try _TreeDecoder(value: c.value, codingPath: c.codingPath).container(keyedBy: type)
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        let c = try child(key)
        return try _TreeDecoder(value: c.value, codingPath: c.codingPath).unkeyedContainer()
    }
    func superDecoder() throws -> any Decoder { _TreeDecoder(value: .object(object), codingPath: codingPath) }
    func superDecoder(forKey key: Key) throws -> any Decoder {
        _TreeDecoder(value: lookup[key.stringValue] ?? .null, codingPath: codingPath + [key])
    }
}

private struct _UnkeyedContainer: UnkeyedDecodingContainer {
    let items: [JSONValue]
    let basePath: [any CodingKey]
    var currentIndex = 0

    init(items: [JSONValue], codingPath: [any CodingKey]) { self.items = items; self.basePath = codingPath }
    var codingPath: [any CodingKey] { basePath }
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    mutating func next() throws -> _SingleContainer {
        let key = AnyCodingKey(intValue: currentIndex)
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(Any.self, .init(codingPath: basePath + [key], debugDescription: "array too short"))
        }
        defer { currentIndex += 1 }
        return _SingleContainer(value: items[currentIndex], codingPath: basePath + [key])
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { return false }
        if items[currentIndex].isNull { currentIndex += 1; return true }
        return false
    }
    mutating func decode(_ type: Bool.Type) throws -> Bool { try next().decode(type) }
    mutating func decode(_ type: String.Type) throws -> String { try next().decode(type) }
    mutating func decode(_ type: Double.Type) throws -> Double { try next().decode(type) }
    mutating func decode(_ type: Float.Type) throws -> Float { try next().decode(type) }
    mutating func decode(_ type: Int.Type) throws -> Int { try next().decode(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try next().decode(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try next().decode(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try next().decode(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try next().decode(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try next().decode(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next().decode(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next().decode(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next().decode(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next().decode(type) }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decode(type) }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let c = try next()
        return try _TreeDecoder(value: c.value, codingPath: c.codingPath).container(keyedBy: type)
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let c = try next()
        return try _TreeDecoder(value: c.value, codingPath: c.codingPath).unkeyedContainer()
    }
    mutating func superDecoder() throws -> any Decoder {
        let c = try next()
        return _TreeDecoder(value: c.value, codingPath: c.codingPath)
    }
}

// MARK: - Encoder

/// Encodes `Encodable` values into a ``JSONValue`` tree, keeping the order in which keys
/// are encoded (synthesized `Codable` encodes in declaration order).
public struct JSONValueEncoder {
    public init() {}
    public func encodeTree<T: Encodable>(_ value: T) throws -> JSONValue {
        let node = _Node()
        try value.encode(to: _TreeEncoder(node: node, codingPath: []))
        return node.resolve()
    }
}

private final class _Node {
    var value: JSONValue?
    var members: [(String, _Node)]?
    var items: [_Node]?

    func resolve() -> JSONValue {
        if let members {
            return .object(JSONObject(members: members.map { .init(key: $0.0, value: $0.1.resolve()) }))
        }
        if let items { return .array(items.map { $0.resolve() }) }
        return value ?? .object(JSONObject())
    }
}

private func encodeDouble(_ d: Double, _ path: [any CodingKey]) throws -> JSONValue {
    guard d.isFinite else {
        throw EncodingError.invalidValue(d, .init(codingPath: path, debugDescription: "non-finite number"))
    }
    return .double(d)
}

private func encodeInteger<I: BinaryInteger>(_ i: I, _ path: [any CodingKey]) throws -> JSONValue {
    guard let v = Int64(exactly: i) else {
        throw EncodingError.invalidValue(i, .init(codingPath: path, debugDescription: "integer out of range"))
    }
    return .integer(v)
}

private struct _TreeEncoder: Encoder, _JSONValueEncoderAccess {
    let node: _Node
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func storeRaw(_ value: JSONValue) { node.value = value; node.members = nil; node.items = nil }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if node.members == nil { node.members = [] }
        return KeyedEncodingContainer(_KeyedEnc<Key>(node: node, codingPath: codingPath))
    }
    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if node.items == nil { node.items = [] }
        return _UnkeyedEnc(node: node, codingPath: codingPath)
    }
    func singleValueContainer() -> any SingleValueEncodingContainer { _SingleEnc(node: node, codingPath: codingPath) }
}

private struct _SingleEnc: SingleValueEncodingContainer {
    let node: _Node
    let codingPath: [any CodingKey]
    func set(_ v: JSONValue) { node.value = v }
    mutating func encodeNil() throws { set(.null) }
    mutating func encode(_ value: Bool) throws { set(.bool(value)) }
    mutating func encode(_ value: String) throws { set(.string(value)) }
    mutating func encode(_ value: Double) throws { set(try encodeDouble(value, codingPath)) }
    mutating func encode(_ value: Float) throws {
        set(try encodeDouble(value.isFinite ? Double(value.description) ?? Double(value) : Double(value), codingPath))
    }
    mutating func encode(_ value: Int) throws { set(.integer(Int64(value))) }
    mutating func encode(_ value: Int8) throws { set(.integer(Int64(value))) }
    mutating func encode(_ value: Int16) throws { set(.integer(Int64(value))) }
    mutating func encode(_ value: Int32) throws { set(.integer(Int64(value))) }
    mutating func encode(_ value: Int64) throws { set(.integer(value)) }
    mutating func encode(_ value: UInt) throws { set(try encodeInteger(value, codingPath)) }
    mutating func encode(_ value: UInt8) throws { set(.integer(Int64(value))) }
    mutating func encode(_ value: UInt16) throws { set(.integer(Int64(value))) }
    mutating func encode(_ value: UInt32) throws { set(.integer(Int64(value))) }
    mutating func encode(_ value: UInt64) throws { set(try encodeInteger(value, codingPath)) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        try value.encode(to: _TreeEncoder(node: node, codingPath: codingPath))
    }
}

private struct _KeyedEnc<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: _Node
    let codingPath: [any CodingKey]

    func child(_ key: Key) -> _Node {
        let n = _Node()
        node.members?.append((key.stringValue, n))
        return n
    }
    func put(_ v: JSONValue, _ key: Key) { child(key).value = v }

    mutating func encodeNil(forKey key: Key) throws { put(.null, key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { put(.bool(value), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { put(.string(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { put(try encodeDouble(value, codingPath + [key]), key) }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        var s = _SingleEnc(node: child(key), codingPath: codingPath + [key]); try s.encode(value)
    }
    mutating func encode(_ value: Int, forKey key: Key) throws { put(.integer(Int64(value)), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { put(.integer(Int64(value)), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { put(.integer(Int64(value)), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { put(.integer(Int64(value)), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { put(.integer(value), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { put(try encodeInteger(value, codingPath + [key]), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { put(.integer(Int64(value)), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { put(.integer(Int64(value)), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { put(.integer(Int64(value)), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { put(try encodeInteger(value, codingPath + [key]), key) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try value.encode(to: _TreeEncoder(node: child(key), codingPath: codingPath + [key]))
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        _TreeEncoder(node: child(key), codingPath: codingPath + [key]).container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        _TreeEncoder(node: child(key), codingPath: codingPath + [key]).unkeyedContainer()
    }
    mutating func superEncoder() -> any Encoder {
        _TreeEncoder(node: child(Key(stringValue: "super")!), codingPath: codingPath)
    }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        _TreeEncoder(node: child(key), codingPath: codingPath + [key])
    }
}

private struct _UnkeyedEnc: UnkeyedEncodingContainer {
    let node: _Node
    let codingPath: [any CodingKey]
    var count: Int { node.items?.count ?? 0 }

    func child() -> (_Node, [any CodingKey]) {
        let n = _Node()
        let path = codingPath + [AnyCodingKey(intValue: count)]
        node.items?.append(n)
        return (n, path)
    }
    mutating func encodeNil() throws { child().0.value = .null }
    mutating func encode(_ value: Bool) throws { child().0.value = .bool(value) }
    mutating func encode(_ value: String) throws { child().0.value = .string(value) }
    mutating func encode(_ value: Double) throws { let (n, p) = child(); n.value = try encodeDouble(value, p) }
    mutating func encode(_ value: Int) throws { child().0.value = .integer(Int64(value)) }
    mutating func encode(_ value: Int64) throws { child().0.value = .integer(value) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        let (n, p) = child()
        try value.encode(to: _TreeEncoder(node: n, codingPath: p))
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let (n, p) = child()
        return _TreeEncoder(node: n, codingPath: p).container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let (n, p) = child()
        return _TreeEncoder(node: n, codingPath: p).unkeyedContainer()
    }
    mutating func superEncoder() -> any Encoder {
        let (n, p) = child()
        return _TreeEncoder(node: n, codingPath: p)
    }
}
