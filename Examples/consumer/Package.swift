// swift-tools-version: 6.1
// An application that embeds flexctl's runtime as a package dependency (scripts/test builds and runs it).
// SwiftPM refuses dependencies whose manifests use unsafe flags, so this package building at all is the proof
// that flexctl's products can be used this way.
import PackageDescription

let package = Package(
    name: "consumer",
    // `name:` because a path dependency is otherwise identified by its folder name (a checkout of flexctl
    // may be called anything).
    dependencies: [.package(name: "flexctl", path: "../..")],
    targets: [
        .executableTarget(
            name: "consumer",
            dependencies: [
                .product(name: "FlexRuntime", package: "flexctl"),
                .product(name: "FlexCodec", package: "flexctl"),
            ]),
    ]
)
