import Foundation
import XCTest
@testable import Keyhouse

/// The cross-language conformance vectors in tests/vectors, through the Swift binding.
final class VectorsTests: XCTestCase {
    func testFormatVectors() throws {
        let file = try Support.vectors("format.json")
        let p = file["pepper"] as! [String: Any]
        let pepper = try Pepper(id: p["id"] as! String, secret: Support.hex(p["secret"] as! String))
        let vectors = file["vectors"] as! [[String: Any]]
        XCTAssertGreaterThanOrEqual(vectors.count, 5)
        let regex = try NSRegularExpression(pattern: file["key_regex"] as! String)
        for v in vectors {
            let (prefix, key) = (v["prefix"] as! String, v["key"] as! String)
            let random = Support.hex(v["id_bytes"] as! String) + Support.hex(v["secret_bytes"] as! String)
            let n = Int64((v["secret_bytes"] as! String).count / 2)
            let g = try testGenerateFromBytes(prefix: prefix, random: random, secretBytes: n)
            XCTAssertEqual([g.key(), g.id(), g.prefix(), g.hash()], [key, v["id"] as! String, prefix, v["hash"] as! String])
            let peppered = try testGenerateFromBytes(prefix: prefix, random: random, secretBytes: n, pepper: pepper)
            XCTAssertEqual(peppered.hash(), v["hash_with_pepper"] as! String)
            XCTAssertEqual(try hashKey(key: key), v["hash"] as! String)
            XCTAssertEqual(try hashKey(key: key, pepper: pepper), v["hash_with_pepper"] as! String)
            XCTAssertTrue(try verifyHash(key: key, storedHash: v["hash_with_pepper"] as! String, peppers: [pepper]))
            XCTAssertEqual(try parse(key: key), ParsedKey(prefix: prefix, id: v["id"] as! String))
            let text = "token: \(key)."
            let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text))
            XCTAssertEqual(match.map { String(text[Range($0.range, in: text)!]) }, key)
        }
        XCTAssertEqual(keyRegex(), file["key_regex"] as! String)
    }

    func testOutcomeVectors() throws {
        let vectors = try Support.vectors("outcomes.json")["outcomes"] as! [[String: Any]]
        let all: [Outcome] = [.valid, .malformed, .notFound, .revoked, .disabled, .expired,
                              .insufficientPermissions, .rateLimited, .usageExceeded]
        XCTAssertEqual(vectors.count, all.count)
        for v in vectors {
            let code = v["outcome"] as! String
            let outcome = try XCTUnwrap(all.first { $0.code() == code }, code)
            XCTAssertEqual(Int(outcome.httpStatus()), v["http_status"] as! Int, code)
        }
    }

    func testParseVectors() throws {
        let vectors = try Support.vectors("parse.json")["vectors"] as! [[String: Any]]
        XCTAssertGreaterThanOrEqual(vectors.count, 40)
        for v in vectors {
            let (name, input, expect) = (v["name"] as! String, v["input"] as! String, v["expect"] as! String)
            if expect == "VALID" {
                XCTAssertEqual(try parse(key: input), ParsedKey(prefix: v["prefix"] as! String, id: v["id"] as! String), name)
                continue
            }
            XCTAssertThrowsError(try parse(key: input), name) { error in
                guard case let KeyhouseError.Malformed(reason, _) = error else {
                    return XCTFail("\(name): \(error)")
                }
                XCTAssertEqual(reason.code(), expect, name)
                XCTAssertEqual((error as! KeyhouseError).code(), "MALFORMED", name)
            }
        }
    }

    func testScenarios() throws {
        let file = try Support.vectors("scenarios.json")
        let start = (file["start"] as! NSNumber).int64Value
        for scenario in file["scenarios"] as! [[String: Any]] {
            for path in [":memory:", try Support.tempDb()] {
                try ScenarioRunner(scenario, start: start, path: path).run()
            }
            try ScenarioRunner(scenario, start: start, path: try Support.pgUrl(), schema: Support.pgSchema()).run()
        }
    }
}

/// Replays one scenario: each step at its clock time, checking the fields it lists.
private final class ScenarioRunner {
    let scenario: [String: Any]
    let start: Int64
    let clock: TestClock
    let store: Keyhouse
    var keys: [String: (key: String, id: String)] = [:]

    init(_ scenario: [String: Any], start: Int64, path: String, schema: String? = nil) throws {
        self.scenario = scenario
        self.start = start
        clock = TestClock(start: Date(timeIntervalSince1970: Double(start) / 1000))
        var config = Self.config(scenario["config"] as? [String: Any] ?? [:])
        config.schema = schema
        store = try testOpenWithClock(path: path, clock: clock, config: config)
    }

    static func seconds(_ v: Any?) -> TimeInterval? { (v as? NSNumber).map { $0.doubleValue / 1000 } }
    static func int(_ v: Any?) -> Int64? { (v as? NSNumber)?.int64Value }

    static func config(_ c: [String: Any]) -> Config {
        Config(
            defaultPermissions: c["default_permissions"] as? [String] ?? [],
            defaultExpiry: seconds(c["default_expiry_ms"]),
            minExpiry: seconds(c["min_expiry_ms"]),
            maxExpiry: seconds(c["max_expiry_ms"]),
            maxKeysPerOwner: int(c["max_keys_per_owner"])
        )
    }

    func at(_ v: Any?) -> Date? { Self.int(v).map { Date(timeIntervalSince1970: Double(start + $0) / 1000) } }
    func offset(_ d: Date?) -> Int64? { d.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) - start } }
    func keyText(_ ref: String) -> String { ref.hasPrefix("literal:") ? String(ref.dropFirst(8)) : keys[ref]!.key }
    func keyId(_ ref: String) -> String { ref.hasPrefix("literal:") ? String(ref.dropFirst(8)) : keys[ref]!.id }
    func refill(_ v: Any?) -> Refill? {
        (v as? [String: Any]).map { Refill(amount: Self.int($0["amount"])!, interval: Self.seconds($0["interval_ms"])!) }
    }
    func rateLimit(_ v: Any?) -> RateLimit? {
        (v as? [String: Any]).map { RateLimit(limit: Self.int($0["limit"])!, window: Self.seconds($0["window_ms"])!) }
    }
    func json(_ v: Any?) -> String? {
        (v as? [String: Any]).map { String(decoding: try! JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
    }

    func info(_ i: KeyInfo) -> [String: Any?] {
        let metadata = try! JSONSerialization.jsonObject(with: Data(i.metadata.utf8))
        return [
            "id": i.id, "prefix": i.prefix, "owner_id": i.ownerId, "name": i.name,
            "permissions": i.permissions, "metadata": metadata, "enabled": i.enabled,
            "created_at": offset(i.createdAt), "expires_at": offset(i.expiresAt),
            "revoked_at": offset(i.revokedAt), "last_refill_at": offset(i.lastRefillAt),
            "remaining": i.remaining, "usage_count": i.usageCount,
        ]
    }

    func createOptions(_ o: [String: Any]) -> CreateOptions {
        CreateOptions(
            ownerId: o["owner_id"] as? String, name: o["name"] as? String, prefix: o["prefix"] as? String,
            expiresIn: Self.seconds(o["expires_in_ms"]), expiresAt: at(o["expires_at"]),
            permissions: o["permissions"] as? [String], metadata: json(o["metadata"]),
            remaining: Self.int(o["remaining"]), refill: refill(o["refill"]), rateLimit: rateLimit(o["rate_limit"])
        )
    }

    /// JSON null clears a field; a value sets it.
    func updateOptions(_ o: [String: Any]) -> UpdateOptions {
        func cleared(_ k: String) -> Bool { o[k] is NSNull }
        return UpdateOptions(
            name: o["name"] as? String, enabled: (o["enabled"] as? NSNumber)?.boolValue,
            permissions: o["permissions"] as? [String], metadata: json(o["metadata"]),
            expiresAt: at(o["expires_at"]), remaining: Self.int(o["remaining"]),
            refill: refill(o["refill"]), rateLimit: rateLimit(o["rate_limit"]),
            clearName: cleared("name"), clearExpiresAt: cleared("expires_at"), clearRemaining: cleared("remaining"),
            clearRefill: cleared("refill"), clearRateLimit: cleared("rate_limit")
        )
    }

    func step(_ s: [String: Any]) throws -> [String: Any?] {
        let ref = s["key"] as? String ?? ""
        switch s["op"] as! String {
        case "create", "roll":
            let created = s["op"] as! String == "create"
                ? try store.create(options: createOptions(s["options"] as! [String: Any]))
                : try store.roll(id: keyId(ref), grace: Self.seconds(s["grace_ms"])!)
            if let name = s["save_as"] as? String { keys[name] = (created.key(), created.info().id) }
            return info(created.info())
        case "verify":
            let r = try store.verify(key: keyText(ref), permissions: s["permissions"] as? [String] ?? [], cost: Self.int(s["cost"]) ?? 1)
            return [
                "outcome": r.outcome.code(),
                "malformed_reason": r.malformedReason?.code(),
                "retry_after_ms": r.retryAfter.map { Int64(($0 * 1000).rounded()) },
                "rate_limit_remaining": r.rateLimit?.remaining,
                "remaining": r.key?.remaining,
            ]
        case "get": return info(try store.get(id: keyId(ref)))
        case "update": return info(try store.update(id: keyId(ref), options: updateOptions(s["options"] as! [String: Any])))
        case "revoke": return info(try store.revoke(id: keyId(ref)))
        case "delete": try store.delete(id: keyId(ref)); return [:]
        case "purge_expired": return ["purged": try store.purgeExpired()]
        case let op: throw NSError(domain: "unknown op \(op)", code: 1)
        }
    }

    func run() throws {
        for (n, s) in (scenario["steps"] as! [[String: Any]]).enumerated() {
            let ctx = "\(scenario["name"]!) step \(n) (\(s["op"]!))"
            clock.set(now: at(s["at"])!)
            let expect = s["expect"] as? [String: Any] ?? [:]
            let got: [String: Any?]
            do {
                got = try step(s)
            } catch let e as KeyhouseError {
                XCTAssertEqual(e.code(), expect["error"] as? String, "\(ctx): \(e)")
                continue
            }
            XCTAssertNil(expect["error"], "\(ctx): expected \(expect["error"]!), got \(got)")
            for (field, want) in expect {
                let value: Any? = got[field] ?? nil
                XCTAssertTrue(Support.sameJson(want, value), "\(ctx): \(field): want \(want), got \(String(describing: value))")
            }
        }
        try store.close()
    }
}
