// swift-tools-version:6.0
// mvad: multi-view anomaly detection on the edge. No package dependencies beyond the toolchain;
// C libraries come from Debian and are found through pkg-config.
import PackageDescription

let package = Package(
    name: "mvad",
    products: [
        .library(name: "MVADEngine", targets: ["MVADEngine"]),
        .executable(name: "mvad", targets: ["mvad"]),
    ],
    targets: [
        // OpenBLAS's CBLAS interface (Debian: libopenblas-dev).
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // SIMD kernels in C with runtime CPU dispatch; every path gives the same bits.
        .target(
            name: "MVADKernels",
            cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off"])]
        ),
        // Tensors, operators, safetensors, and the diffusers model ports.
        .target(
            name: "MVADEngine",
            dependencies: ["CBLAS", "MVADKernels"]
        ),
        // The command-line tool: the only place that prints.
        .executableTarget(
            name: "mvad",
            dependencies: ["MVADEngine", "MVADKernels"]
        ),
        .testTarget(
            name: "MVADEngineTests",
            dependencies: ["MVADEngine", "MVADKernels"],
            exclude: ["Fixtures"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
