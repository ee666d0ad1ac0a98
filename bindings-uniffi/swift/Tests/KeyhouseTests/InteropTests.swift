import Foundation
import XCTest
@testable import Keyhouse

/// Swift and the keyhouse CLI on one database file.
final class InteropTests: XCTestCase {
    func testAKeyFromSwiftVerifiesInTheCli() throws {
        let db = try Support.tempDb()
        let c = try Keyhouse.open(path: db).create(options: CreateOptions(prefix: "swift_made", permissions: ["files:*"], remaining: 2))
        let run = try Support.runCli(db, ["verify", c.key(), "--permission", "files:read"])
        XCTAssertEqual(run.code, 0)
        XCTAssertTrue(run.stdout.hasPrefix("VALID"), run.stdout)
        XCTAssertEqual(try Keyhouse.open(path: db).get(id: c.info().id).remaining, 1)
    }

    func testAKeyFromTheCliVerifiesInSwift() throws {
        let db = try Support.tempDb()
        let run = try Support.runCli(db, ["--json", "create", "--prefix", "cli_made", "--owner", "ops"])
        XCTAssertEqual(run.code, 0)
        let made = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as! [String: Any]
        let r = try Keyhouse.open(path: db).verify(key: made["key"] as! String)
        XCTAssertEqual(r.outcome, .valid)
        XCTAssertEqual(r.key?.ownerId, "ops")
    }

    func testOnPostgresAKeyFromTheCliVerifiesInSwiftAndARevokeIsSeenByTheCli() throws {
        let url = try Support.pgUrl()
        let env = ["KEYHOUSE_SCHEMA": Support.pgSchema()]
        let run = try Support.runCli(url, ["--json", "create", "--remaining", "3"], env: env)
        XCTAssertEqual(run.code, 0)
        let made = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as! [String: Any]
        let store = try Keyhouse.open(path: url, config: Config(schema: env["KEYHOUSE_SCHEMA"]))
        let r = try store.verify(key: made["key"] as! String)
        XCTAssertEqual(r.outcome, .valid)
        XCTAssertEqual(r.key?.remaining, 2)
        _ = try store.revoke(id: (made["info"] as! [String: Any])["id"] as! String)
        try store.close()
        let after = try Support.runCli(url, ["verify", made["key"] as! String], env: env)
        XCTAssertEqual(after.code, 1)
        XCTAssertTrue(after.stdout.hasPrefix("REVOKED"), after.stdout)
    }

    /// The middle phase of the Kotlin–Swift test (see the Makefile's
    /// test-uniffi): verifies the key Kotlin made, and revokes the other one.
    /// Skipped unless KEYHOUSE_INTEROP_DIR is set.
    func testKeysFromKotlin() throws {
        guard let dir = ProcessInfo.processInfo.environment["KEYHOUSE_INTEROP_DIR"], !dir.isEmpty else {
            throw XCTSkip("KEYHOUSE_INTEROP_DIR is not set")
        }
        let base = URL(fileURLWithPath: dir)
        let keys = try JSONSerialization.jsonObject(with: Data(contentsOf: base.appendingPathComponent("kotlin-keys.json"))) as! [String: String]
        let store = try Keyhouse.open(path: base.appendingPathComponent("shared.db").path)
        let a = try store.verify(key: keys["a"]!, permissions: ["files:read"])
        XCTAssertEqual(a.outcome, .valid)
        XCTAssertEqual(a.key?.ownerId, "interop")
        XCTAssertTrue(a.key!.prefix == "kt_made")
        XCTAssertNotNil(try store.revoke(id: keys["b_id"]!).revokedAt)
        XCTAssertEqual(try store.verify(key: keys["b"]!).outcome, .revoked)
        try store.close()
        try Data("ok".utf8).write(to: base.appendingPathComponent("swift-done"))
    }
}
