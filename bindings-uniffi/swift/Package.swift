// swift-tools-version:5.9
// Keyhouse for Swift: the generated UniFFI bindings over the Rust core.
//
// `make uniffi-release` writes Sources/Keyhouse/Keyhouse.swift and
// Sources/KeyhouseFFI/include/KeyhouseFFI.h from the release library; the
// library itself (libkeyhouse_uniffi) must be on the linker's search path.
import PackageDescription

let package = Package(
    name: "Keyhouse",
    products: [
        .library(name: "Keyhouse", targets: ["Keyhouse"]),
    ],
    targets: [
        // The C declarations of the FFI, with a module map that links libkeyhouse_uniffi.
        .systemLibrary(name: "KeyhouseFFI", path: "Sources/KeyhouseFFI"),
        .target(name: "Keyhouse", dependencies: ["KeyhouseFFI"], path: "Sources/Keyhouse"),
        .testTarget(name: "KeyhouseTests", dependencies: ["Keyhouse"], path: "Tests/KeyhouseTests"),
    ]
)
