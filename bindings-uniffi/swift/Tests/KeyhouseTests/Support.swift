import Foundation
import XCTest

/// Paths and helpers shared by the test files.
enum Support {
    /// The repository root: the nearest folder above this file with the
    /// conformance vectors (the tests run in `bindings-uniffi/swift` or in
    /// make test's copy of it under `bindings-uniffi/target`).
    static let root: URL = {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("tests/vectors").path) {
            precondition(dir.path != "/", "no tests/vectors above \(#filePath)")
            dir = dir.deletingLastPathComponent()
        }
        return dir
    }()

    /// One file of the cross-language conformance vectors.
    static func vectors(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: root.appendingPathComponent("tests/vectors/\(name)"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    /// A fresh database path in a new temporary directory.
    static func tempDb() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("keyhouse-swift-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent("keys.db").path
    }

    /// The PostgreSQL server the tests run against; unset fails loudly (make test sets it).
    static func pgUrl() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["KEYHOUSE_TEST_PG"], !url.isEmpty else {
            XCTFail("KEYHOUSE_TEST_PG is not set: the PostgreSQL tests need a server (make test starts one)")
            throw CocoaError(.featureUnsupported)
        }
        return url
    }

    /// A fresh PostgreSQL schema name; tests/postgres/start.sh drops old ones.
    static func pgSchema() -> String {
        "sw_\(ProcessInfo.processInfo.processIdentifier)_\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// The keyhouse CLI built by Cargo (or `KEYHOUSE_CLI`).
    static let cli: String = ProcessInfo.processInfo.environment["KEYHOUSE_CLI"]
        ?? root.appendingPathComponent("target/debug/keyhouse").path

    /// Runs the CLI on `db` with `args` and `env` added to its environment;
    /// returns the exit code and standard output.
    static func runCli(_ db: String, _ args: [String], env: [String: String] = [:]) throws -> (code: Int32, stdout: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: cli)
        p.arguments = ["--db", db] + args
        p.environment = ProcessInfo.processInfo.environment.merging(env) { _, new in new }
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// This process's resident set size in KiB, from /proc (Linux).
    static func rssKib() throws -> Int {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }!
        return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])!
    }

    /// Bytes from hex text.
    static func hex(_ s: String) -> Data {
        var out = Data()
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            out.append(UInt8(s[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    /// Whether `got` equals the JSON value `want` (numbers compared as integers).
    static func sameJson(_ want: Any, _ got: Any?) -> Bool {
        switch want {
        case is NSNull: return got == nil
        case let w as [String: Any]:
            guard let g = got as? [String: Any] else { return false }
            return NSDictionary(dictionary: w).isEqual(to: g)
        case let w as [Any]:
            guard let g = got as? [String] else { return false }
            return (w as? [String]) == g
        case let w as String: return (got as? String) == w
        case let w as NSNumber:
            if let g = got as? Bool { return w.boolValue == g && (w == true as NSNumber || w == false as NSNumber) }
            if let g = got as? Int64 { return w.int64Value == g }
            return false
        default: return false
        }
    }
}
