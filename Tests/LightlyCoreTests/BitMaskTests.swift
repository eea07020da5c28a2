import Testing
@testable import LightlyShared

@Suite struct BitMaskTests {
    @Test func specExample() {
        let m = BitMask(indices: [0, 3, 4, 6])
        #expect(m.hexString == "0x59")
        #expect(BitMask.full(count: 10).hexString == "0x3ff")
        #expect(BitMask().hexString == "0x0")
        #expect(BitMask(hex: "0x0") == BitMask())
    }

    @Test func thousandBitsAllSet() {
        let hex = BitMask.full(count: 1000).hexString
        #expect(hex == "0x" + String(repeating: "f", count: 250))
    }

    @Test(arguments: ["0x59", "0X59", "59", "0x0059", "0x59".uppercased()])
    func parsesLeniently(_ s: String) throws {
        let m = try #require(BitMask(hex: s))
        #expect(m.indices == [0, 3, 4, 6])
    }

    @Test(arguments: ["", "0x", "0xg1", "zz", "0x 1"])
    func rejectsGarbage(_ s: String) {
        #expect(BitMask(hex: s) == nil)
    }

    @Test func roundTripLarge() throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            let n = Int.random(in: 1...5000, using: &rng)
            let idx = (0..<n).filter { _ in Bool.random(using: &rng) }
            let m = BitMask(indices: idx)
            #expect(m.indices == idx)
            let back = try #require(BitMask(hex: m.hexString))
            #expect(back == m)
            #expect(m.count == idx.count)
        }
    }

    @Test func arithmetics() {
        let a = BitMask(indices: [0, 1, 2, 100])
        let b = BitMask(indices: [2, 3, 100, 200])
        #expect(a.union(b).indices == [0, 1, 2, 3, 100, 200])
        #expect(a.intersection(b).indices == [2, 100])
        #expect(a.subtracting(b).indices == [0, 1])
        #expect(b.subtracting(a).indices == [3, 200])
        #expect(a.inverted(total: 5).indices == [3, 4])
        #expect(BitMask(indices: [64]).subtracting(BitMask(indices: [64])).hexString == "0x0")
    }
}
