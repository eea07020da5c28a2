#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// An Encoder that writes compact JSON straight into a byte buffer, for ``WireJSON/encode(_:)``.
//
// It produces exactly the bytes of the tree path (``JSONValueEncoder/encodeTree(_:)`` followed by
// ``JSONValue/serializedBytes()``), without building the tree: keyed containers write `"key":value`
// as the keys come, numbers and strings go through the same formatting functions as the tree's
// serialiser. Streaming is only equivalent while the value is encoded depth first, one container
// at a time, which is what synthesized and hand-written `encode(to:)` of the wire types do. The
// uses whose tree result depends on later calls (a nested container or super encoder handed out
// before its parent is done, writing to a container after a child was opened and before it was
// finished, two values or two kinds of container on one encoder) make the encoder give up: it
// returns nil and the caller takes the tree path, so the output never differs.

/// Writes JSON bytes directly; nil from ``encode(_:)`` means "use the tree path".
struct DirectJSONEncoder {
    /// The JSON bytes of `value`, or nil when the value encodes itself in a way only the tree path
    /// reproduces exactly.
    /// - Throws: `EncodingError` for a non-finite number or an integer beyond `Int64`.
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8]? {
        let writer = _ByteWriter()
        let root = _Slot(parent: nil, key: nil)
        writer.open(root)
        do {
            try value.encode(to: _DirectEncoder(writer: writer, slot: root))
        } catch {
            if writer.gaveUp { return nil }
            throw error
        }
        writer.close(root)
        return writer.gaveUp ? nil : writer.out
    }
}

/// What has been written into one slot (the place of one JSON value).
private enum _SlotState {
    /// Nothing yet: the tree path writes `{}` for a value left like this.
    case empty
    /// A single-value container was handed out but nothing written through it yet.
    case singleRequested
    /// A complete value was written.
    case written
    /// An object is open; `count` members written so far.
    case object(count: Int)
    /// An array is open; `count` elements written so far.
    case array(count: Int)
}

/// The place of one JSON value in the output. A class so that the encoder and its containers
/// share the state; the coding path is computed only when an error needs it.
private final class _Slot {
    let parent: _Slot?
    let key: (any CodingKey)?
    @exclusivity(unchecked) var state: _SlotState = .empty

    init(parent: _Slot?, key: (any CodingKey)?) { self.parent = parent; self.key = key }

    var codingPath: [any CodingKey] {
        var path: [any CodingKey] = []
        var s: _Slot? = self
        while let slot = s {
            if let k = slot.key { path.append(k) }
            s = slot.parent
        }
        return path.reversed()
    }
}

/// The output buffer and the stack of open slots; only the innermost open slot may be written.
private final class _ByteWriter {
    // Written only here and in the closures handed `&out`, never while another access is open:
    // unchecked spares the run-time exclusivity check on every append (a fifth of the encoding time).
    @exclusivity(unchecked) var out: [UInt8] = []
    @exclusivity(unchecked) var stack: [_Slot] = []
    var gaveUp = false

    init() { out.reserveCapacity(512) }

    func open(_ slot: _Slot) { stack.append(slot) }

    /// True when `slot` is the innermost open slot; otherwise the encoder gives up.
    func isCurrent(_ slot: _Slot) -> Bool {
        if !gaveUp, let top = stack.last, top === slot { return true }
        gaveUp = true
        return false
    }

    /// Finishes the innermost slot as the tree path would resolve it.
    func close(_ slot: _Slot) {
        guard isCurrent(slot) else { return }
        switch slot.state {
        case .empty, .singleRequested: out.append(contentsOf: [0x7b, 0x7d])   // {}
        case .written: break
        case .object: out.append(UInt8(ascii: "}"))
        case .array: out.append(UInt8(ascii: "]"))
        }
        slot.state = .written
        stack.removeLast()
    }

    /// Writes one primitive value into `slot`, which must be empty.
    func writeValue(_ slot: _Slot, _ body: (inout [UInt8]) -> Void) {
        guard isCurrent(slot) else { return }
        switch slot.state {
        case .empty, .singleRequested:
            body(&out)
            slot.state = .written
        default:
            gaveUp = true
        }
    }

    /// Starts a member of the object in `slot`: writes `,"key":`; false when the encoder gave up.
    func beginMember(_ slot: _Slot, _ key: any CodingKey) -> Bool {
        guard isCurrent(slot), case .object(let n) = slot.state else { gaveUp = true; return false }
        if n > 0 { out.append(UInt8(ascii: ",")) }
        JSONValue.writeString(key.stringValue, into: &out)
        out.append(UInt8(ascii: ":"))
        slot.state = .object(count: n + 1)
        return true
    }

    /// Starts an element of the array in `slot`: writes `,` and returns the element's index, or
    /// nil when the encoder gave up.
    func beginElement(_ slot: _Slot) -> Int? {
        guard isCurrent(slot), case .array(let n) = slot.state else { gaveUp = true; return nil }
        if n > 0 { out.append(UInt8(ascii: ",")) }
        slot.state = .array(count: n + 1)
        return n
    }

    /// Encodes `value` into `child` (a member or an element just begun), then closes it.
    func encodeChild<T: Encodable>(_ value: T, in child: _Slot) throws {
        open(child)
        try value.encode(to: _DirectEncoder(writer: self, slot: child))
        close(child)
    }
}

// MARK: - Formatting shared with the tree path

private func checkedDouble(_ d: Double, _ slot: @autoclosure () -> [any CodingKey]) throws -> Double {
    guard d.isFinite else {
        throw EncodingError.invalidValue(d, .init(codingPath: slot(), debugDescription: "non-finite number"))
    }
    return d
}

/// A `Float` as the tree path stores it: through its shortest decimal text.
private func floatAsDouble(_ value: Float) -> Double {
    value.isFinite ? Double(value.description) ?? Double(value) : Double(value)
}

private func checkedInteger<I: BinaryInteger>(_ i: I, _ path: @autoclosure () -> [any CodingKey]) throws -> Int64 {
    guard let v = Int64(exactly: i) else {
        throw EncodingError.invalidValue(i, .init(codingPath: path(), debugDescription: "integer out of range"))
    }
    return v
}

private func writeInteger(_ i: Int64, into out: inout [UInt8]) { out.append(contentsOf: String(i).utf8) }

// MARK: - Encoder and containers

private struct _DirectEncoder: Encoder, _JSONValueEncoderAccess {
    let writer: _ByteWriter
    let slot: _Slot
    var codingPath: [any CodingKey] { slot.codingPath }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func storeRaw(_ value: JSONValue) {
        writer.writeValue(slot) { JSONValue.write(value, into: &$0) }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if writer.isCurrent(slot) {
            switch slot.state {
            case .empty, .singleRequested:
                writer.out.append(UInt8(ascii: "{"))
                slot.state = .object(count: 0)
            case .object: break   // a second request continues the same object, as in the tree
            default: writer.gaveUp = true
            }
        }
        return KeyedEncodingContainer(_DirectKeyed<Key>(writer: writer, slot: slot))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if writer.isCurrent(slot) {
            switch slot.state {
            case .empty, .singleRequested:
                writer.out.append(UInt8(ascii: "["))
                slot.state = .array(count: 0)
            case .array: break
            default: writer.gaveUp = true
            }
        }
        return _DirectUnkeyed(writer: writer, slot: slot)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        if writer.isCurrent(slot) {
            switch slot.state {
            case .empty: slot.state = .singleRequested
            case .singleRequested: break
            default: writer.gaveUp = true
            }
        }
        return _DirectSingle(writer: writer, slot: slot)
    }
}

private struct _DirectSingle: SingleValueEncodingContainer {
    let writer: _ByteWriter
    let slot: _Slot
    var codingPath: [any CodingKey] { slot.codingPath }

    func put(_ body: (inout [UInt8]) -> Void) { writer.writeValue(slot, body) }

    mutating func encodeNil() throws { put { $0.append(contentsOf: [0x6e, 0x75, 0x6c, 0x6c]) } }
    mutating func encode(_ value: Bool) throws { put { JSONValue.writeBool(value, into: &$0) } }
    mutating func encode(_ value: String) throws { put { JSONValue.writeString(value, into: &$0) } }
    mutating func encode(_ value: Double) throws {
        let d = try checkedDouble(value, codingPath)
        put { JSONValue.writeDouble(d, into: &$0) }
    }
    mutating func encode(_ value: Float) throws { try encode(floatAsDouble(value)) }
    mutating func encode(_ value: Int) throws { put { writeInteger(Int64(value), into: &$0) } }
    mutating func encode(_ value: Int8) throws { put { writeInteger(Int64(value), into: &$0) } }
    mutating func encode(_ value: Int16) throws { put { writeInteger(Int64(value), into: &$0) } }
    mutating func encode(_ value: Int32) throws { put { writeInteger(Int64(value), into: &$0) } }
    mutating func encode(_ value: Int64) throws { put { writeInteger(value, into: &$0) } }
    mutating func encode(_ value: UInt) throws {
        let i = try checkedInteger(value, codingPath)
        put { writeInteger(i, into: &$0) }
    }
    mutating func encode(_ value: UInt8) throws { put { writeInteger(Int64(value), into: &$0) } }
    mutating func encode(_ value: UInt16) throws { put { writeInteger(Int64(value), into: &$0) } }
    mutating func encode(_ value: UInt32) throws { put { writeInteger(Int64(value), into: &$0) } }
    mutating func encode(_ value: UInt64) throws {
        let i = try checkedInteger(value, codingPath)
        put { writeInteger(i, into: &$0) }
    }
    /// As in the tree path, the value encodes itself into this same slot.
    mutating func encode<T: Encodable>(_ value: T) throws {
        guard writer.isCurrent(slot) else { return }
        switch slot.state {
        case .empty, .singleRequested: slot.state = .empty
        default: writer.gaveUp = true; return
        }
        try value.encode(to: _DirectEncoder(writer: writer, slot: slot))
    }
}

private struct _DirectKeyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let writer: _ByteWriter
    let slot: _Slot
    var codingPath: [any CodingKey] { slot.codingPath }

    func put(_ key: Key, _ body: (inout [UInt8]) -> Void) {
        if writer.beginMember(slot, key) { body(&writer.out) }
    }
    func path(_ key: Key) -> [any CodingKey] { codingPath + [key] }

    mutating func encodeNil(forKey key: Key) throws { put(key) { $0.append(contentsOf: [0x6e, 0x75, 0x6c, 0x6c]) } }
    mutating func encode(_ value: Bool, forKey key: Key) throws { put(key) { JSONValue.writeBool(value, into: &$0) } }
    mutating func encode(_ value: String, forKey key: Key) throws { put(key) { JSONValue.writeString(value, into: &$0) } }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        let d = try checkedDouble(value, path(key))
        put(key) { JSONValue.writeDouble(d, into: &$0) }
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        let d = try checkedDouble(floatAsDouble(value), path(key))
        put(key) { JSONValue.writeDouble(d, into: &$0) }
    }
    mutating func encode(_ value: Int, forKey key: Key) throws { put(key) { writeInteger(Int64(value), into: &$0) } }
    mutating func encode(_ value: Int8, forKey key: Key) throws { put(key) { writeInteger(Int64(value), into: &$0) } }
    mutating func encode(_ value: Int16, forKey key: Key) throws { put(key) { writeInteger(Int64(value), into: &$0) } }
    mutating func encode(_ value: Int32, forKey key: Key) throws { put(key) { writeInteger(Int64(value), into: &$0) } }
    mutating func encode(_ value: Int64, forKey key: Key) throws { put(key) { writeInteger(value, into: &$0) } }
    mutating func encode(_ value: UInt, forKey key: Key) throws {
        let i = try checkedInteger(value, path(key))
        put(key) { writeInteger(i, into: &$0) }
    }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { put(key) { writeInteger(Int64(value), into: &$0) } }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { put(key) { writeInteger(Int64(value), into: &$0) } }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { put(key) { writeInteger(Int64(value), into: &$0) } }
    mutating func encode(_ value: UInt64, forKey key: Key) throws {
        let i = try checkedInteger(value, path(key))
        put(key) { writeInteger(i, into: &$0) }
    }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        guard writer.beginMember(slot, key) else { return }
        try writer.encodeChild(value, in: _Slot(parent: slot, key: key))
    }

    // Containers handed out before the parent is done: only the tree reproduces them exactly.
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        writer.gaveUp = true
        return _DirectEncoder(writer: writer, slot: _Slot(parent: slot, key: key)).container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        writer.gaveUp = true
        return _DirectEncoder(writer: writer, slot: _Slot(parent: slot, key: key)).unkeyedContainer()
    }
    mutating func superEncoder() -> any Encoder {
        writer.gaveUp = true
        return _DirectEncoder(writer: writer, slot: _Slot(parent: slot, key: nil))
    }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        writer.gaveUp = true
        return _DirectEncoder(writer: writer, slot: _Slot(parent: slot, key: key))
    }
}

private struct _DirectUnkeyed: UnkeyedEncodingContainer {
    let writer: _ByteWriter
    let slot: _Slot
    var codingPath: [any CodingKey] { slot.codingPath }
    var count: Int { if case .array(let n) = slot.state { return n }; return 0 }

    func put(_ body: (inout [UInt8]) -> Void) {
        if writer.beginElement(slot) != nil { body(&writer.out) }
    }
    func nextPath() -> [any CodingKey] { codingPath + [AnyCodingKey(intValue: count)] }

    mutating func encodeNil() throws { put { $0.append(contentsOf: [0x6e, 0x75, 0x6c, 0x6c]) } }
    mutating func encode(_ value: Bool) throws { put { JSONValue.writeBool(value, into: &$0) } }
    mutating func encode(_ value: String) throws { put { JSONValue.writeString(value, into: &$0) } }
    mutating func encode(_ value: Double) throws {
        let d = try checkedDouble(value, nextPath())
        put { JSONValue.writeDouble(d, into: &$0) }
    }
    mutating func encode(_ value: Int) throws { put { writeInteger(Int64(value), into: &$0) } }
    mutating func encode(_ value: Int64) throws { put { writeInteger(value, into: &$0) } }
    mutating func encode<T: Encodable>(_ value: T) throws {
        guard let index = writer.beginElement(slot) else { return }
        try writer.encodeChild(value, in: _Slot(parent: slot, key: AnyCodingKey(intValue: index)))
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        writer.gaveUp = true
        return _DirectEncoder(writer: writer, slot: _Slot(parent: slot, key: nil)).container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        writer.gaveUp = true
        return _DirectEncoder(writer: writer, slot: _Slot(parent: slot, key: nil)).unkeyedContainer()
    }
    mutating func superEncoder() -> any Encoder {
        writer.gaveUp = true
        return _DirectEncoder(writer: writer, slot: _Slot(parent: slot, key: nil))
    }
}
