// swift-tools-version:6.0
// An ordinary package that uses lightly-server's Swift client, the way another project would:
// it depends on the repository and takes the `LightlyClient` product. Here the dependency is the
// checkout two levels up (`path: "../.."`); another project writes
//   .package(url: "https://github.com/<owner>/lightly-server", from: "<version>")
// instead. Run it against a server:
//   LIGHTLY_SERVER_LOCATION=http://127.0.0.1:8421 LIGHTLY_TOKEN=... swift run --package-path Examples/SeedWorkflow
import PackageDescription

let package = Package(
    name: "SeedWorkflow",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "lightly-server", path: "../.."),
    ],
    targets: [
        .executableTarget(name: "SeedWorkflow", dependencies: [
            .product(name: "LightlyClient", package: "lightly-server"),
        ]),
    ]
)
