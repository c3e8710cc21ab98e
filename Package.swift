// swift-tools-version:6.0
// mvad: multi-view anomaly detection on the edge. No package dependencies beyond the toolchain;
// C libraries come from Debian and are found through pkg-config.
import PackageDescription

let package = Package(
    name: "mvad",
    products: [
        .library(name: "MVADEngine", targets: ["MVADEngine"]),
        .library(name: "MVADInspect", targets: ["MVADInspect"]),
        .library(name: "MVADCapture", targets: ["MVADCapture"]),
        .library(name: "MVADCaptureEmulation", targets: ["MVADCaptureEmulation"]),
        .library(name: "MVADSynth", targets: ["MVADSynth"]),
        .library(name: "MVADStation", targets: ["MVADStation"]),
        .executable(name: "mvad", targets: ["mvad"]),
    ],
    targets: [
        // OpenBLAS's CBLAS interface (Debian: libopenblas-dev).
        .systemLibrary(
            name: "CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // libpng's simplified read/write API (Debian: libpng-dev).
        .systemLibrary(
            name: "CPNG",
            pkgConfig: "libpng",
            providers: [.apt(["libpng-dev"])]
        ),
        // libjpeg-turbo's TurboJPEG API, whose calls return errors instead of longjmp-ing
        // (Debian: libturbojpeg0-dev).
        .systemLibrary(
            name: "CTurboJPEG",
            pkgConfig: "libturbojpeg",
            providers: [.apt(["libturbojpeg0-dev"])]
        ),
        // zlib, for the CRC-32 checksums of .mvad packs (Debian: zlib1g-dev).
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // The Linux V4L2 and GPIO v2 uAPI from the kernel headers (Debian: linux-libc-dev).
        .systemLibrary(name: "CLinuxUAPI"),
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
        // The method: views in, DDIM inversion features, memory banks, scores, metrics.
        .target(
            name: "MVADInspect",
            dependencies: ["MVADEngine", "MVADKernels", "MVADPack", "CBLAS", "CPNG", "CTurboJPEG"]
        ),
        // The .mvad model-pack container: a validated, memory-mapped reader and its writer.
        .target(
            name: "MVADPack",
            dependencies: ["MVADEngine", "CZlib"]
        ),
        // Station capture: V4L2 cameras, GPIO lights, normal maps, through one system-call layer.
        .target(
            name: "MVADCapture",
            dependencies: ["MVADInspect", "CLinuxUAPI"]
        ),
        // Emulated V4L2 camera and GPIO chip behind the system-call layer, for tests.
        .target(
            name: "MVADCaptureEmulation",
            dependencies: ["MVADCapture", "MVADInspect", "CLinuxUAPI", "CTurboJPEG"]
        ),
        // Deterministic synthetic multi-light parts in the Eyecandies layout (docs/SYNTH.md).
        .target(
            name: "MVADSynth",
            dependencies: ["MVADInspect"]
        ),
        // The station loop: PLC handshake, trigger sources, fail-safe inspection of each part,
        // rejected-part store, systemd notify (docs/STATION.md).
        .target(
            name: "MVADStation",
            dependencies: ["MVADCapture", "MVADInspect", "MVADEngine", "MVADPack"]
        ),
        // The command-line tool: the only place that prints.
        .executableTarget(
            name: "mvad",
            dependencies: ["MVADEngine", "MVADInspect", "MVADKernels", "MVADPack", "MVADCapture",
                           "MVADSynth", "MVADStation"]
        ),
        .testTarget(
            name: "MVADEngineTests",
            dependencies: ["MVADEngine", "MVADKernels"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "MVADInspectTests",
            dependencies: ["MVADInspect", "MVADEngine", "MVADPack"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "MVADCaptureTests",
            dependencies: ["MVADCapture", "MVADCaptureEmulation", "MVADInspect", "MVADSynth",
                           "CLinuxUAPI"]
        ),
        .testTarget(
            name: "MVADStationTests",
            dependencies: ["MVADStation", "MVADCapture", "MVADCaptureEmulation", "MVADInspect",
                           "MVADEngine", "MVADPack", "MVADSynth"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "MVADSynthTests",
            dependencies: ["MVADSynth", "MVADInspect"]
        ),
        .testTarget(
            name: "MVADPackTests",
            dependencies: ["MVADPack", "MVADEngine"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
