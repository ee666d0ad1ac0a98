// swift-tools-version:5.9
// Keyhouse for Swift: the generated UniFFI bindings over the Rust core.
//
// `make uniffi-release` writes Sources/Keyhouse/Keyhouse.swift and
// Sources/KeyhouseFFI/include/KeyhouseFFI.h from the release library; the
// library itself (libkeyhouse_uniffi) must be on the linker's search path.
import Foundation
import PackageDescription

// The tests use the test seams, which only the debug library has (make test
// runs them in a copy with the sources generated from it), so the test target
// exists only where Tests/ does: a user copies Package.swift and Sources/.
let hasTests = FileManager.default.fileExists(atPath: Context.packageDirectory + "/Tests/KeyhouseTests")

let package = Package(
    name: "Keyhouse",
    products: [
        .library(name: "Keyhouse", targets: ["Keyhouse"]),
    ],
    targets: [
        // The C declarations of the FFI, with a module map that links libkeyhouse_uniffi.
        .systemLibrary(name: "KeyhouseFFI", path: "Sources/KeyhouseFFI"),
        .target(name: "Keyhouse", dependencies: ["KeyhouseFFI"], path: "Sources/Keyhouse"),
    ] + (hasTests ? [.testTarget(name: "KeyhouseTests", dependencies: ["Keyhouse"], path: "Tests/KeyhouseTests")] : [])
)
