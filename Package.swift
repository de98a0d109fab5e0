// swift-tools-version: 6.1
import PackageDescription

// No unsafe flags and nothing that depends on the build host, so that flexctl's libraries can be used as a
// package dependency (SwiftPM refuses unsafe flags in dependencies; Examples/consumer proves it):
// - the hot kernels are C (CFlexKernels), compiled twice — for AVX2 + FMA and portable — and chosen once at
//   start-up by a CPU check (see Sources/CFlexKernels/dispatch.c);
// - C libraries come through pkg-config. The static libhdf5.a that release builds link (it avoids loading
//   libcurl and some thirty libraries at every start, ~13 ms) is chosen by scripts/build-release, not here.

let package = Package(
    name: "flexctl",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "flexctl", targets: ["flexctl"]),
        .library(name: "FlexRuntime", targets: ["FlexRuntime"]),
        .library(name: "FlexTraining", targets: ["FlexTraining"]),
        // The runtime-side libraries an application embeds next to FlexRuntime.
        .library(name: "FlexCodec", targets: ["FlexCodec"]),
        .library(name: "FlexData", targets: ["FlexData"]),
        .library(name: "FlexForecast", targets: ["FlexForecast"]),
        // The C API (one header, Sources/CFlexctl/include/flexctl.h; docs/c-api.md): libflexctl_c.a and
        // libflexctl_c_shared.so.
        .library(name: "flexctl_c", type: .static, targets: ["FlexctlCAPI", "CFlexctl"]),
        .library(name: "flexctl_c_shared", type: .dynamic, targets: ["FlexctlCAPI", "CFlexctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.0"),
    ],
    targets: [
        // C libraries through pkg-config. No stable API: internal to flexctl.
        .systemLibrary(
            name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
            providers: [.apt(["libpng-dev"])]),
        .systemLibrary(
            name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libjpeg",
            providers: [.apt(["libjpeg62-turbo-dev"])]),
        .systemLibrary(
            name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(
            name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5-serial",
            providers: [.apt(["libhdf5-dev"])]),
        // OpenSSL's libcrypto, for SHA-256 only (the model fingerprint).
        .systemLibrary(
            name: "CLibCrypto", path: "Sources/CLibCrypto", pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]),
        // A small Swift wrapper over the HDF5 C library (files, groups, float datasets, scalar attributes).
        // No stable API: internal to flexctl.
        .target(name: "FlexHDF5", dependencies: ["CHDF5", "CFlexHDF5", "FlexIO"]),
        // The isolated HDF5 reader: libhdf5 parses untrusted files in a child process. No stable API.
        .target(name: "CFlexHDF5", dependencies: ["CHDF5"]),

        // Small C helpers (allocator tuning, the async-signal-safe registry of temporary files). No stable API:
        // internal to flexctl.
        .target(name: "CFlexSupport"),
        // Safe file I/O for every other target: inputs that are regular files of bounded size, and the one
        // atomic writer (temporary file + rename or no-replace link, removed on errors and signals).
        .target(name: "FlexIO", dependencies: ["CFlexSupport"]),
        // PNG decoding with libpng's classic API (samples as stored, no gamma), in C so that libpng's
        // longjmp error path never crosses Swift frames. No stable API: internal to flexctl.
        .target(name: "CFlexPNG", dependencies: ["CPNG"], linkerSettings: [.linkedLibrary("png16")]),
        // JPEG decoding with libjpeg-turbo from memory, limits checked before allocating, in C so that
        // libjpeg's longjmp error path never crosses Swift frames. No stable API: internal to flexctl.
        .target(name: "CFlexJPEG", dependencies: ["CJPEG"], linkerSettings: [.linkedLibrary("jpeg")]),

        // The hot loops (matrix products, vector exp/sigmoid/tanh, activation passes, Adam, MSE) in C, each compiled
        // for AVX2 + FMA and portably, dispatched once at start-up. No stable API: FlexRuntime and FlexTraining
        // wrap them in Swift.
        .target(name: "CFlexKernels"),

        // Runtime: tensors, forward kernels, activations. Never depends on training code.
        .target(
            name: "FlexRuntime",
            dependencies: [
                "CFlexSupport", "CFlexKernels", "CLibCrypto", "FlexIO", "FlexHDF5",
                // The learned codec's checkpoints hold CDFTables, validated by the reader.
                "FlexEntropy",
                .product(name: "RealModule", package: "swift-numerics"),
            ]),
        // Training: backward passes, loss, optimiser, regulariser.
        .target(
            name: "FlexTraining",
            dependencies: [
                "FlexRuntime", "FlexEntropy", "CFlexKernels", "FlexIO", "FlexHDF5",
                .product(name: "RealModule", package: "swift-numerics"),
            ]),
        // The factorized entropy model (Ballé et al. 2018's per-channel learned density): likelihoods, rate and its
        // gradients, the quantiles' auxiliary loss, PMF export for the coder. Forward and backward together:
        // they share one evaluation loop (docs/entropy-model.md).
        .target(name: "FlexEntropyModel", dependencies: ["FlexRuntime", .product(name: "RealModule", package: "swift-numerics")]),
        // Training the learned image codec (issue 11): the rate–distortion loss, its optimiser and run folder.
        .target(
            name: "FlexCodecTraining",
            dependencies: ["FlexRuntime", "FlexTraining", "FlexEntropyModel", "FlexEntropy", "FlexCodec", "FlexIO",
                           "FlexHDF5", "CFlexKernels", .product(name: "RealModule", package: "swift-numerics")]),
        // Statistics for `flexctl experiment`: the regularised incomplete beta, Student's t CDF/tails, Welch's and
        // the paired t-test, Holm's adjustment (docs/statistics.md). Pure Swift, no Foundation.
        .target(name: "FlexStats", dependencies: [.product(name: "RealModule", package: "swift-numerics")]),
        // `flexctl experiment`: arms, seeds and shards, the experiment folder, run results, the summary with its
        // tests, merging shards, and the figures (docs/experiment.md). Training itself is `flexctl train`'s.
        .target(name: "FlexExperiment", dependencies: ["FlexRuntime", "FlexStats", "FlexPlot", "FlexIO"]),
        // Data loaders: IDX and CIFAR-10 images, PNG photo patches, investing.com and numeric CSV series with
        // date alignment, returns and normalisation. Shared by training and the runtime-side commands.
        .target(name: "FlexData", dependencies: ["FlexRuntime", "FlexIO", "FlexImageIO", "FlexStats"]),
        // The image codec: PNG/PGM/PPM reading and writing, JPEG reading, tiling, quantisation, the .flexz container
        // (version 1: the CAE tile codec; version 2: the learned codec, rANS-coded with FlexEntropy's tables).
        .target(name: "FlexCodec", dependencies: ["FlexRuntime", "FlexIO", "FlexImageIO", "FlexEntropy"]),
        // Image and compression I/O shared by the codec, the data loaders and the plotter: the one PNG reader
        // (CFlexPNG, samples as stored), the JPEG reader (CFlexJPEG), the PNG writer (libpng's simplified API),
        // and zlib (CRC-32, deflate/inflate, streaming gzip). No stable API: internal to flexctl.
        .target(name: "FlexImageIO", dependencies: ["CPNG", "CFlexPNG", "CFlexJPEG", "CZlib", "FlexIO"]),
        // The entropy coder of the learned codec: integer CDF tables from probability mass functions and a
        // 32-bit rANS coder with 16-bit precision and an escape for out-of-range values (docs/entropy-coding.md).
        // Depends on nothing, so decoding is integer-only and reproducible everywhere.
        .target(name: "FlexEntropy"),
        // Line plots to SVG and PNG.
        .target(name: "FlexPlot", dependencies: ["FlexImageIO", "FlexIO"]),
        // The forecasting engine (forecaster loading, series resolution, k-step forecasts, backtests), shared by
        // the CLI and the C API. No rendering.
        .target(name: "FlexForecast", dependencies: ["FlexRuntime", "FlexData", "FlexIO"]),
        // The C API: the public header and flexctl_free (C), implemented by @_cdecl functions (Swift).
        .target(name: "CFlexctl"),
        .target(
            name: "FlexctlCAPI",
            dependencies: ["CFlexctl", "FlexRuntime", "FlexHDF5", "FlexCodec", "FlexData", "FlexForecast"]),
        // The command-line interface, as a library so tests can drive it.
        .target(
            name: "FlexCLI",
            dependencies: [
                "FlexRuntime", "FlexTraining", "FlexPlot", "FlexData", "FlexCodec", "FlexHDF5", "FlexIO", "FlexForecast", "FlexCodecTraining",
                "FlexExperiment", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // Release builds for users (scripts/build-release) add `--static-swift-stdlib` and the static libhdf5: a
        // cold start then skips loading and relocating a dozen shared Swift libraries (docs/benchmarks.md,
        // "Cold start").
        .executableTarget(name: "flexctl", dependencies: ["FlexCLI"]),

        .testTarget(
            name: "FlexRuntimeTests",
            dependencies: ["FlexRuntime", "CFlexKernels", .product(name: "PropertyBased", package: "swift-property-based")]),
        .testTarget(
            name: "FlexTrainingTests",
            dependencies: [
                "FlexRuntime", "FlexTraining",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            exclude: ["Reference"]),
        // Finite-difference and numpy float64 checks of the entropy model (Reference/ holds the numpy script).
        .testTarget(
            name: "FlexEntropyModelTests",
            dependencies: ["FlexEntropyModel", "FlexEntropy", "FlexRuntime", .product(name: "RealModule", package: "swift-numerics")],
            exclude: ["Reference"]),
        // SciPy reference values (Reference/stats_reference.py printed StatsReferenceValues.swift) and hand-made ones.
        .testTarget(name: "FlexStatsTests", dependencies: ["FlexStats"], exclude: ["Reference"]),
        // Arms, shards, results, the summary's statistics, merging (no training: the process tests run that).
        .testTarget(name: "FlexExperimentTests", dependencies: ["FlexExperiment", "FlexStats", "FlexIO"]),
        // Known answers from PyTorch (Reference/reference.py wrote Reference/reference.json).
        .testTarget(
            name: "FlexKnownAnswerTests", dependencies: ["FlexRuntime", "FlexTraining"],
            resources: [.copy("Reference")]),
        // Checkpoint format: round trips, h5dump, every bad input the reader reports.
        // Interop/ holds an h5py script and its output (run by its own test).
        .testTarget(
            name: "FlexCheckpointTests", dependencies: ["FlexRuntime", "FlexTraining", "FlexHDF5", "FlexEntropy"],
            exclude: ["Interop", "Hostile"]),
        .testTarget(
            name: "FlexDataTests", dependencies: ["FlexData", "FlexStats", "CZlib"], exclude: ["Reference"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "FlexCodecTests", dependencies: ["FlexCodec", "FlexRuntime", "FlexImageIO", "FlexEntropy", "CPNG"], exclude: ["Fixtures/make_pngs.py", "Fixtures/jpeg-tools"],
            resources: [.copy("Fixtures")]),
        // The shipped models in models/ against the data they were trained on.
        .testTarget(name: "FlexModelTests", dependencies: ["FlexRuntime", "FlexData", "FlexCodec"]),
        .testTarget(name: "FlexCLITests", dependencies: ["FlexCLI", "FlexCodecTraining", "FlexPlot", "FlexImageIO", "FlexRuntime", "FlexIO", "FlexTraining", "FlexForecast", "FlexEntropy"], exclude: ["Snapshots"]),
        // The C API: bad inputs through the C functions, and the C and Python examples (examples/) compiled and
        // run against the built shared library.
        .testTarget(
            name: "FlexCAPITests",
            dependencies: ["FlexctlCAPI", "FlexForecast", "FlexCodec", "FlexData", "FlexRuntime"], exclude: ["C"]),
        // The file reader and writer: FIFOs and devices as inputs, concurrent writers, signals, stale temporary
        // files, a full disk (a small tmpfs, when run as root).
        .testTarget(name: "FlexIOTests", dependencies: ["FlexIO"]),
        // The entropy coder: round trips, coded size against the ideal, hostile streams, table building.
        .testTarget(name: "FlexEntropyTests", dependencies: ["FlexEntropy"]),
        .testTarget(name: "FlexCodecTrainingTests", dependencies: ["FlexCodecTraining", "FlexEntropyModel", "FlexRuntime"],
                    exclude: ["Reference"]),
    ]
)
