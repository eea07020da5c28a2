import Foundation
import Testing

/// SwiftPM refuses a product as a versioned dependency when a target in its closure uses
/// `unsafeFlags`. These tests read the manifest as SwiftPM sees it (`swift package
/// dump-package`) and walk the target dependencies, so such a flag cannot creep into
/// `LightlyClient` unnoticed.
@Suite struct PackageManifestTests {
    /// The `swift` driver on PATH (the one running `swift test`).
    static let swift: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "")
        .split(separator: ":").map { "\($0)/swift" }
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Target name → (dependency names inside this package, unsafe flags of the target).
    struct Manifest {
        var targets: [String: (deps: [String], unsafe: [String])] = [:]
        var products: [String: [String]] = [:]

        /// Every target reachable from `product`'s targets, each with its unsafe flags.
        func closure(ofProduct product: String) -> [String: [String]] {
            var seen: [String: [String]] = [:]
            var stack = products[product] ?? []
            while let t = stack.popLast() {
                guard seen[t] == nil, let info = targets[t] else { continue }
                seen[t] = info.unsafe
                stack += info.deps
            }
            return seen
        }
    }

    static func dumpManifest() throws -> Manifest {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try #require(swift))
        // A scratch path of its own: `swift test` holds the lock on the package's .build.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lightly-dump-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        p.arguments = ["package", "--package-path", LiveServer.packageRoot.path, "--scratch-path", scratch.path,
                       "dump-package"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        try #require(p.terminationStatus == 0, "swift package dump-package failed")
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        var m = Manifest()
        for case let t as [String: Any] in json["targets"] as? [Any] ?? [] {
            guard let name = t["name"] as? String else { continue }
            var deps: [String] = []
            for case let d as [String: Any] in t["dependencies"] as? [Any] ?? [] {
                // {"byName": ["X", null]} or {"target": ["X", null]}; products of other packages
                // ({"product": …}) come from versioned packages, which SwiftPM already checks.
                for key in ["byName", "target"] {
                    if let a = d[key] as? [Any], let n = a.first as? String { deps.append(n) }
                }
            }
            var unsafe: [String] = []
            for case let s as [String: Any] in t["settings"] as? [Any] ?? [] {
                if let kind = s["kind"] as? [String: Any], let u = kind["unsafeFlags"] as? [String: Any] {
                    unsafe += (u["_0"] as? [String]) ?? ["(unsafeFlags)"]
                }
            }
            m.targets[name] = (deps, unsafe)
        }
        for case let p as [String: Any] in json["products"] as? [Any] ?? [] {
            if let name = p["name"] as? String, let targets = p["targets"] as? [String] { m.products[name] = targets }
        }
        return m
    }

    @Test(.enabled(if: swift != nil, "no swift executable to run dump-package"))
    func lightlyClientClosureHasNoUnsafeFlags() throws {
        let m = try Self.dumpManifest()
        let closure = m.closure(ofProduct: "LightlyClient")
        #expect(closure["LightlyClient"] != nil && closure["LightlyWire"] != nil && closure["LightlyShared"] != nil,
                "unexpected closure: \(closure.keys.sorted())")
        let offenders = closure.filter { !$0.value.isEmpty }
        #expect(offenders.isEmpty, "unsafeFlags in LightlyClient's closure: \(offenders)")
        // lightly-cli ships to other machines too: it must not carry the sampler's flags either.
        let cli = m.closure(ofProduct: "lightly-cli").filter { !$0.value.isEmpty }
        #expect(cli.isEmpty, "unsafeFlags in lightly-cli's closure: \(cli)")
    }

    /// The walk finds the flags where they are (the sampler's hot loops), so the test above
    /// cannot pass by reading nothing.
    @Test(.enabled(if: swift != nil, "no swift executable to run dump-package"))
    func theWalkSeesTheSamplersFlags() throws {
        let m = try Self.dumpManifest()
        let server = m.closure(ofProduct: "lightly-server")
        #expect(server["LightlySampling"]?.contains("-Ounchecked") == true, "closure: \(server)")
        // Only the hot-loop target is built without checks; the CSV parser (LightlyCore) is not.
        #expect(server.filter { !$0.value.isEmpty }.keys.sorted() == ["LightlySampling"])
    }
}
