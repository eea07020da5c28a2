// swift-tools-version:6.0
// lightly-server: a self-hosted server that speaks the Lightly platform's REST API (v1).
import PackageDescription

// Code generation of the sampler's hot loops (LightlySampling and sampling-bench), release only.
// `-Ounchecked` is limited to LightlySampling: it holds no request parsing (the embedding CSV
// parser that reads uploads lives in LightlyCore and keeps Swift's checks).
// By default the code is portable: the x86-64-v2 baseline on x86-64 (SSE4.2, every x86-64 server
// CPU since about 2009) and the generic arm64 baseline, so a release binary runs on any such CPU.
// CPU-specific speed comes from the C kernels in CLightlyKernels, which pick AVX-512 or AVX2+FMA
// code at run time. LIGHTLY_TARGET_CPU=<cpu> opts into code for one CPU and newer (`native` =
// the build host's CPU, `haswell` = x86-64-v3, `znver4`, …; name one with FMA and F16C): the
// binary then dies with an illegal instruction on older CPUs. `portable` or empty = the default.
let targetCPU: String? = Context.environment["LIGHTLY_TARGET_CPU"].flatMap {
    $0.isEmpty || $0 == "portable" ? nil : $0
}
#if arch(x86_64)
// `nehalem` has exactly the x86-64-v2 instruction set (SSE4.2, POPCNT, CMPXCHG16B); swiftc's
// C importer does not accept the name `x86-64-v2` itself.
let baselineCPUFlags = ["-target-cpu", "nehalem"]
#else
let baselineCPUFlags: [String] = []
#endif
let kernelFlags: [String] = ["-Ounchecked"]
    + (targetCPU.map { ["-target-cpu", $0, "-DLIGHTLY_FMA"] } ?? baselineCPUFlags)

let package = Package(
    name: "lightly-server",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "lightly-server", targets: ["lightly-server"]),
        .executable(name: "lightly-cli", targets: ["lightly-cli"]),
        .library(name: "LightlyClient", targets: ["LightlyClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // MARK: - System libraries
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3",
                       providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]),
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "openssl",
                       providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]),
        // libpq, PostgreSQL's C client, for the optional PostgreSQL store.
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"]), .brew(["libpq"])]),

        // MARK: - Libraries
        // Value types shared by the core, the wire types and the client (BitMask, SamplingMethod).
        // No dependencies and no unsafe flags: LightlyClient's closure must stay free of them.
        .target(name: "LightlyShared"),
        // Hand-vectorised distance kernels (AVX-512 / AVX2+FMA chosen at run time; no flags needed).
        .target(name: "CLightlyKernels", cSettings: [
            .define("LIGHTLY_BUILD_TARGET_CPU", to: "\"\(targetCPU ?? "portable")\""),
        ]),
        // The samplers and their hot loops. No I/O. The only Swift target built with -Ounchecked.
        .target(name: "LightlySampling", dependencies: ["CLightlyKernels", "LightlyShared"],
                swiftSettings: [.unsafeFlags(kernelFlags, .when(configuration: .release))]),
        // Domain models: embedding CSV parsing and writing, PCA, ids. No I/O. Re-exports
        // LightlySampling and LightlyShared.
        .target(name: "LightlyCore", dependencies: ["LightlySampling", "LightlyShared"]),
        // Codable wire types shared by the server and the client.
        .target(name: "LightlyWire"),
        // HTTP/1.1 over POSIX sockets and Dispatch. Knows nothing of Lightly.
        .target(name: "HTTPKit", dependencies: ["COpenSSL", .product(name: "Logging", package: "swift-log")]),
        // SQLite through the system libsqlite3 (and PostgreSQL through libpq); numbered migrations
        // embedded at build time.
        .target(name: "LightlyStorage", dependencies: ["LightlyCore", "LightlyWire", "CSQLite", "CLibPQ", "COpenSSL"],
                plugins: ["EmbedMigrations"]),
        // Server settings: defaults < config file < environment < flags. Pure, no I/O but reading the file.
        .target(name: "ServerConfig"),
        // Routes, auth, signed URLs, the job runner.
        .target(name: "LightlyAPI", dependencies: [
            "LightlyCore", "LightlyWire", "LightlyStorage", "HTTPKit", "COpenSSL",
            .product(name: "Logging", package: "swift-log"),
        ], exclude: ["README.md", "Jobs/README.md"], plugins: ["EmbedWebAssets"]),
        // Thin async client over URLSession. Usable as a versioned dependency of other packages:
        // no unsafe flags anywhere in its closure (checked by PackageManifestTests).
        .target(name: "LightlyClient", dependencies: ["LightlyWire", "LightlyShared"]),

        // MARK: - Executables
        .executableTarget(name: "lightly-server", dependencies: [
            "LightlyAPI", "LightlyStorage", "HTTPKit", "ServerConfig",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "lightly-cli", dependencies: [
            "LightlyClient", "LightlyShared",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Exact greedy k-center over row shards held by separate processes (docs/scaling.md):
        // coordinator and shard worker in one executable, talking over pipes.
        .executableTarget(name: "sharded-kcenter", dependencies: [
            "LightlyCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "sampling-bench", dependencies: [
            "LightlyCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "benchmarks/sampling-bench",
           swiftSettings: [.unsafeFlags(kernelFlags, .when(configuration: .release))]),
        .executableTarget(name: "csv-bench", dependencies: ["LightlyCore"],
                          path: "benchmarks/csv/csv-bench",
                          swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]),

        .executableTarget(name: "http-bench-server", dependencies: [
            "HTTPKit", .product(name: "Logging", package: "swift-log"),
        ], path: "benchmarks/http/server"),

        // MARK: - Build tools
        // Embeds migrations/NNNN_name.sql and migrations/postgres/NNNN_name.sql into LightlyStorage at build time.
        .plugin(name: "EmbedMigrations", capability: .buildTool(), dependencies: ["EmbedMigrationsGenerator"]),
        .executableTarget(name: "EmbedMigrationsGenerator", path: "Plugins/EmbedMigrationsGenerator"),
        // Embeds webui/* (the web page served at `/`) into LightlyAPI at build time.
        .plugin(name: "EmbedWebAssets", capability: .buildTool(), dependencies: ["EmbedWebAssetsGenerator"]),
        .executableTarget(name: "EmbedWebAssetsGenerator", path: "Plugins/EmbedWebAssetsGenerator"),

        // MARK: - Tests
        // Shared by the test targets (they cannot import each other): a loopback HTTP client, a
        // process runner. A plain target, used only by test targets.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        // A throwaway PostgreSQL server (initdb + postgres on a free 127.0.0.1 port) and the test
        // store switch (LIGHTLY_TEST_STORE=postgres), for the tests of both stores.
        .target(name: "PostgresTestSupport", dependencies: ["LightlyStorage"], path: "Tests/PostgresTestSupport"),
        .testTarget(name: "LightlyCoreTests", dependencies: ["LightlyCore", "LightlySampling", "LightlyShared"]),
        .testTarget(name: "HTTPKitTests", dependencies: ["HTTPKit", "TestSupport"]),
        .testTarget(name: "LightlyStorageTests", dependencies: ["LightlyStorage", "PostgresTestSupport"]),
        .testTarget(name: "ServerConfigTests", dependencies: ["ServerConfig"]),
        // Drives the built lightly-server binary: serve, token, migrate, settings, healthcheck.
        .testTarget(name: "LightlyServerTests", dependencies: ["lightly-server", "TestSupport"]),
        .testTarget(name: "LightlyAPITests", dependencies: ["LightlyAPI", "LightlyWire", "HTTPKit", "LightlyStorage", "TestSupport", "PostgresTestSupport"]),
        .testTarget(name: "LightlyClientTests", dependencies: ["LightlyClient", "LightlyAPI", "LightlyStorage", "lightly-server", "lightly-cli", "TestSupport", "PostgresTestSupport"],
                    exclude: ["Fixtures"]),
        // Drives the built sharded-kcenter binary (coordinator and worker processes).
        .testTarget(name: "ShardedKCenterTests", dependencies: ["sharded-kcenter", "LightlySampling", "TestSupport"]),
        // Runs Tests/conformance/run.py: the real `lightly` pip client against the built server.
        .testTarget(name: "ConformanceTests", dependencies: ["lightly-server", "PostgresTestSupport"]),
    ]
)
