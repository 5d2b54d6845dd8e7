// swift-tools-version:5.10
import PackageDescription

let package = Package(
    name: "dkms-swift",
    products: [
        .executable(name: "dkms", targets: ["dkms"]),
    ],
    targets: [
        .executableTarget(name: "dkms", dependencies: ["DKMSCore"]),
        .target(name: "DKMSCore"),
        .testTarget(name: "DKMSCoreTests", dependencies: ["DKMSCore"]),
        .testTarget(name: "IntegrationTests", dependencies: ["DKMSCore"]),
    ]
)
