// swift-tools-version:6.0
// lightly-server: a self-hosted server that speaks the Lightly platform's REST API (v1).
import PackageDescription

// Release-only code generation flags for the numeric kernels (LightlyCore, sampling-bench).
// By default a release build targets the CPU it is built on (`-target-cpu native`: AVX2/AVX-512,
// F16C, FMA), which is what `swift run -c release lightly-server serve` wants and is 2-3× faster
// than portable x86-64 on cache-resident data. LIGHTLY_TARGET_CPU overrides it: a CPU name
// (`haswell` for the x86-64-v3 baseline the Docker image uses, `znver4`, …; name one with FMA)
// or `portable` for plain x86-64/arm64 code with no CPU-specific flags.
let targetCPU = Context.environment["LIGHTLY_TARGET_CPU"] ?? "native"
let kernelFlags: [String] = ["-Ounchecked"]
    + (targetCPU == "portable" ? [] : ["-target-cpu", targetCPU, "-DLIGHTLY_FMA"])

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

        // MARK: - Libraries
        // Domain models and samplers. No I/O.
        // Hand-vectorised distance kernels (AVX-512, chosen at run time; no flags needed).
        .target(name: "CLightlyKernels"),
        .target(name: "LightlyCore", dependencies: ["CLightlyKernels"],
                swiftSettings: [.unsafeFlags(kernelFlags, .when(configuration: .release))]),
        // Codable wire types shared by the server and the client.
        .target(name: "LightlyWire", dependencies: ["LightlyCore"]),
        // HTTP/1.1 over POSIX sockets and Dispatch. Knows nothing of Lightly.
        .target(name: "HTTPKit", dependencies: ["COpenSSL", .product(name: "Logging", package: "swift-log")]),
        // SQLite through the system libsqlite3; numbered migrations embedded at build time.
        .target(name: "LightlyStorage", dependencies: ["LightlyCore", "CSQLite", "COpenSSL"],
                plugins: ["EmbedMigrations"]),
        // Server settings: defaults < config file < environment < flags. Pure, no I/O but reading the file.
        .target(name: "ServerConfig"),
        // Routes, auth, signed URLs, the job runner.
        .target(name: "LightlyAPI", dependencies: [
            "LightlyCore", "LightlyWire", "LightlyStorage", "HTTPKit", "COpenSSL",
            .product(name: "Logging", package: "swift-log"),
        ], exclude: ["README.md", "Jobs/README.md"]),
        // Thin async client over URLSession.
        .target(name: "LightlyClient", dependencies: ["LightlyWire", "LightlyCore"]),

        // MARK: - Executables
        .executableTarget(name: "lightly-server", dependencies: [
            "LightlyAPI", "LightlyStorage", "HTTPKit", "ServerConfig",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "lightly-cli", dependencies: [
            "LightlyClient",
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
        // Embeds migrations/NNNN_name.sql into LightlyStorage at build time.
        .plugin(name: "EmbedMigrations", capability: .buildTool(), dependencies: ["EmbedMigrationsGenerator"]),
        .executableTarget(name: "EmbedMigrationsGenerator", path: "Plugins/EmbedMigrationsGenerator"),

        // MARK: - Tests
        .testTarget(name: "LightlyCoreTests", dependencies: ["LightlyCore"]),
        .testTarget(name: "HTTPKitTests", dependencies: ["HTTPKit"]),
        .testTarget(name: "LightlyStorageTests", dependencies: ["LightlyStorage"]),
        .testTarget(name: "ServerConfigTests", dependencies: ["ServerConfig"]),
        // Drives the built lightly-server binary: serve, token, migrate, settings, healthcheck.
        .testTarget(name: "LightlyServerTests", dependencies: ["lightly-server"]),
        .testTarget(name: "LightlyAPITests", dependencies: ["LightlyAPI", "LightlyWire", "HTTPKit", "LightlyStorage"]),
        .testTarget(name: "LightlyClientTests", dependencies: ["LightlyClient", "LightlyAPI", "LightlyStorage", "lightly-server", "lightly-cli"],
                    exclude: ["Fixtures"]),
        // Runs Tests/conformance/run.py: the real `lightly` pip client against the built server.
        .testTarget(name: "ConformanceTests", dependencies: ["lightly-server"]),
    ]
)
