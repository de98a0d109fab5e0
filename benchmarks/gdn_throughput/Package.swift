// swift-tools-version: 6.1
// Throughput of the GDN / IGDN layers (forward and backward) on [8, 128, 64, 64], release build:
//     swift run -c release --package-path benchmarks/gdn_throughput
// A separate package (like Examples/consumer) so measuring does not build the whole test suite in release.
import PackageDescription

let package = Package(
    name: "gdn-throughput",
    dependencies: [.package(name: "flexctl", path: "../..")],
    targets: [
        .executableTarget(
            name: "gdn-throughput",
            dependencies: [
                .product(name: "FlexRuntime", package: "flexctl"),
                .product(name: "FlexTraining", package: "flexctl"),
            ]),
    ]
)
