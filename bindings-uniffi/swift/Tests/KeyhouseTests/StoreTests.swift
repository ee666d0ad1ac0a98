import Foundation
import XCTest
@testable import Keyhouse

/// The whole Keyhouse object.
final class StoreTests: XCTestCase {
    func open() throws -> Keyhouse { try Keyhouse.open(path: ":memory:") }

    func testCreateReturnsTheKeyOnceWithEveryOption() throws {
        let store = try open()
        let metadata = #"{"plan":"pro","seats":5,"tags":["a"],"nested":{"x":null}}"#
        let c = try store.create(options: CreateOptions(
            ownerId: "team-1", name: "deploy", prefix: "acme_live", expiresIn: 86400,
            permissions: ["files:*"], metadata: metadata,
            remaining: 10, refill: Refill(amount: 10, interval: 3600), rateLimit: RateLimit(limit: 100, window: 60)
        ))
        XCTAssertTrue(c.key().hasPrefix("acme_live_"))
        XCTAssertFalse(String(describing: c).contains(c.key()))
        let info = c.info()
        XCTAssertEqual(info.ownerId, "team-1")
        let got = try JSONSerialization.jsonObject(with: Data(info.metadata.utf8)) as! NSDictionary
        XCTAssertEqual(got, try JSONSerialization.jsonObject(with: Data(metadata.utf8)) as! NSDictionary)
        XCTAssertEqual(info.expiresAt!.timeIntervalSince(info.createdAt), 86400)
        XCTAssertEqual(info.refill, Refill(amount: 10, interval: 3600))
        XCTAssertEqual(info.rateLimit, RateLimit(limit: 100, window: 60))
        XCTAssertEqual(try store.get(id: info.id), info)
    }

    func testVerifyGivesEveryOutcome() throws {
        let store = try open()
        let c = try store.create(options: CreateOptions(permissions: ["files:read"], remaining: 2))
        let r = try store.verify(key: c.key(), permissions: ["files:read"])
        XCTAssertEqual(r.outcome, .valid)
        XCTAssertTrue(r.isValid())
        XCTAssertEqual(r.key?.remaining, 1)
        XCTAssertEqual(try store.verify(key: c.key(), permissions: ["files:read"], cost: 1).key?.remaining, 0)
        XCTAssertEqual(try store.verify(key: c.key()).outcome, .usageExceeded)
        XCTAssertEqual(try store.verify(key: c.key(), permissions: ["files:write"]).outcome, .insufficientPermissions)
        let typo = String(c.key().dropLast()) + (c.key().hasSuffix("A") ? "B" : "A")
        let malformed = try store.verify(key: typo)
        XCTAssertEqual(malformed.outcome, .malformed)
        XCTAssertEqual(malformed.malformedReason, .checksumMismatch)
        XCTAssertNil(malformed.key)
        XCTAssertEqual(try store.verify(key: try generate().key()).outcome, .notFound)
        _ = try store.update(id: c.info().id, options: UpdateOptions(enabled: false, clearRemaining: true))
        XCTAssertEqual(try store.verify(key: c.key()).outcome, .disabled)
        _ = try store.revoke(id: c.info().id)
        let revoked = try store.verify(key: c.key())
        XCTAssertEqual(revoked.outcome, .revoked)
        XCTAssertNotNil(revoked.key?.revokedAt)
    }

    func testRateLimitsAndExpiryUseFoundationTime() throws {
        let t0 = Date(timeIntervalSince1970: 1_798_761_600) // 2027-01-01T00:00:00Z
        let clock = TestClock(start: t0)
        let store = try testOpenWithClock(path: ":memory:", clock: clock)
        let c = try store.create(options: CreateOptions(expiresIn: 3600, rateLimit: RateLimit(limit: 1, window: 30)))
        XCTAssertEqual(try store.verify(key: c.key()).rateLimit?.remaining, 0)
        let r = try store.verify(key: c.key())
        XCTAssertEqual(r.outcome, .rateLimited)
        XCTAssertEqual(r.retryAfter, 30)
        XCTAssertEqual(r.rateLimit?.resetAt, t0.addingTimeInterval(30))
        clock.advance(by: 3600)
        XCTAssertEqual(try store.verify(key: c.key()).outcome, .expired)
        XCTAssertEqual(try store.purgeExpired(), 1)
        XCTAssertThrowsError(try store.get(id: c.info().id)) { XCTAssertEqual(($0 as! KeyhouseError).code(), "NOT_FOUND") }
    }

    func testListPaginatesAndFilters() throws {
        let store = try open()
        let ids = try (0..<7).map { try store.create(options: CreateOptions(ownerId: $0 % 2 == 1 ? "a" : "b")).info().id }
        var seen: [String] = []
        var cursor: String? = nil
        repeat {
            let page = try store.list(options: ListOptions(limit: 3, cursor: cursor))
            XCTAssertLessThanOrEqual(page.keys.count, 3)
            seen += page.keys.map(\.id)
            cursor = page.nextCursor
        } while cursor != nil
        XCTAssertEqual(seen.sorted(), ids.sorted())
        XCTAssertTrue(try store.list(options: ListOptions(ownerId: "a")).keys.allSatisfy { $0.ownerId == "a" })
        _ = try store.revoke(id: ids[0])
        XCTAssertFalse(try store.list().keys.contains { $0.id == ids[0] })
        XCTAssertTrue(try store.list(options: ListOptions(includeRevoked: true)).keys.contains { $0.id == ids[0] })
    }

    func testUpdateSetsAndClears() throws {
        let store = try open()
        let id = try store.create(options: CreateOptions(name: "a", expiresIn: 86400, remaining: 5)).info().id
        let changed = try store.update(id: id, options: UpdateOptions(name: "b", permissions: ["x:y"], metadata: #"{"k":1}"#, rateLimit: RateLimit(limit: 5, window: 1)))
        XCTAssertEqual(changed.name, "b")
        XCTAssertEqual(changed.permissions, ["x:y"])
        XCTAssertEqual(changed.metadata, #"{"k":1}"#)
        XCTAssertEqual(changed.rateLimit?.limit, 5)
        let cleared = try store.update(id: id, options: UpdateOptions(clearName: true, clearExpiresAt: true, clearRemaining: true, clearRateLimit: true))
        XCTAssertNil(cleared.name)
        XCTAssertNil(cleared.expiresAt)
        XCTAssertNil(cleared.remaining)
        XCTAssertNil(cleared.rateLimit)
        XCTAssertThrowsError(try store.update(id: id, options: UpdateOptions(name: "c", clearName: true))) {
            XCTAssertEqual(($0 as! KeyhouseError).code(), "INVALID_ARGUMENT")
        }
    }

    func testRollKeepsTheOldKeyForTheGracePeriod() throws {
        let store = try open()
        let old = try store.create(options: CreateOptions(permissions: ["a:b"]))
        let new = try store.roll(id: old.info().id, grace: 300)
        XCTAssertEqual(new.info().permissions, ["a:b"])
        XCTAssertTrue(try store.verify(key: new.key()).isValid())
        XCTAssertTrue(try store.verify(key: old.key()).isValid())
        XCTAssertNotNil(try store.get(id: old.info().id).expiresAt)
        let immediate = try store.roll(id: new.info().id)
        XCTAssertEqual(try store.verify(key: new.key()).outcome, .expired)
        XCTAssertTrue(try store.verify(key: immediate.key()).isValid())
    }

    func testCreateManyIsAllOrNothing() throws {
        let store = try Keyhouse.open(path: ":memory:", config: Config(maxKeysPerOwner: 2))
        XCTAssertEqual(try store.createMany(options: [CreateOptions(ownerId: "o"), CreateOptions(ownerId: "p")]).count, 2)
        XCTAssertThrowsError(try store.createMany(options: [CreateOptions(ownerId: "q"), CreateOptions(ownerId: "o"), CreateOptions(ownerId: "o")])) {
            guard case KeyhouseError.KeyLimitExceeded = $0 else { return XCTFail("\($0)") }
        }
        XCTAssertEqual(try store.list().keys.count, 2)
    }

    func testDeleteFlushAndClose() throws {
        let store = try Keyhouse.open(path: try Support.tempDb())
        let c = try store.create()
        XCTAssertTrue(try store.verify(key: c.key()).isValid())
        try store.flush()
        XCTAssertEqual(try store.get(id: c.info().id).usageCount, 1)
        try store.delete(id: c.info().id)
        XCTAssertEqual(try store.verify(key: c.key()).outcome, .notFound)
        XCTAssertThrowsError(try store.delete(id: c.info().id)) { XCTAssertEqual(($0 as! KeyhouseError).code(), "NOT_FOUND") }
        try store.close()
        XCTAssertThrowsError(try store.create()) {
            guard case KeyhouseError.Closed = $0 else { return XCTFail("\($0)") }
        }
    }

    func testPeppersRotate() throws {
        let path = try Support.tempDb()
        let old = try Pepper(id: "old", secret: Data(repeating: 1, count: 32))
        let new = try Pepper(id: "new", secret: Data(repeating: 2, count: 32))
        let key = try Keyhouse.open(path: path, config: Config(pepper: old)).create().key()
        XCTAssertTrue(try Keyhouse.open(path: path, config: Config(pepper: new, previousPeppers: [old])).verify(key: key).isValid())
        XCTAssertTrue(try Keyhouse.open(path: path, config: Config(pepper: new)).verify(key: key).isValid())
    }

    func testRehashOnVerifyCanBeTurnedOff() throws {
        let path = try Support.tempDb()
        let old = try Pepper(id: "old", secret: Data(repeating: 1, count: 32))
        let new = try Pepper(id: "new", secret: Data(repeating: 2, count: 32))
        let key = try Keyhouse.open(path: path, config: Config(pepper: old)).create().key()
        let rotating = { (rehash: Bool) in Config(pepper: new, previousPeppers: [old], rehashOnVerify: rehash) }
        XCTAssertTrue(try Keyhouse.open(path: path, config: rotating(false)).verify(key: key).isValid())
        // Still hashed with the old pepper: a store that knows only it accepts the key.
        XCTAssertTrue(try Keyhouse.open(path: path, config: Config(pepper: old)).verify(key: key).isValid())
        XCTAssertTrue(try Keyhouse.open(path: path, config: rotating(true)).verify(key: key).isValid())
        XCTAssertEqual(try Keyhouse.open(path: path, config: Config(pepper: old)).verify(key: key).outcome, .notFound)
    }

    func testLeaseSizeLeasesCreditsAndGivesThemBackOnClose() throws {
        let path = try Support.tempDb()
        let admin = try Keyhouse.open(path: path)
        let c = try admin.create(options: CreateOptions(remaining: 100))
        let leased = try Keyhouse.open(path: path, config: Config(leaseSize: 10, leaseIdle: 30))
        XCTAssertEqual(try leased.verify(key: c.key()).key?.remaining, 99)
        // Nine more are leased out of the store, and spent from memory.
        XCTAssertEqual(try admin.get(id: c.info().id).remaining, 90)
        for n in stride(from: Int64(98), through: 90, by: -1) {
            XCTAssertEqual(try leased.verify(key: c.key()).key?.remaining, n)
        }
        XCTAssertEqual(try leased.verify(key: c.key()).key?.remaining, 89)
        try leased.close()
        XCTAssertEqual(try admin.get(id: c.info().id).remaining, 89)
        XCTAssertThrowsError(try Keyhouse.open(path: ":memory:", config: Config(leaseSize: 0)))
    }

    func testOneStoreServesManyThreads() throws {
        let store = try Keyhouse.open(path: try Support.tempDb())
        let key = try store.create(options: CreateOptions(remaining: 400)).key()
        let valid = NSLock()
        var count = 0
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<60 where (try? store.verify(key: key).isValid()) == true {
                valid.lock(); count += 1; valid.unlock()
            }
            for _ in 0..<5 { _ = try? store.create() }
        }
        XCTAssertEqual(count, 400)
        XCTAssertEqual(try store.verify(key: key).outcome, .usageExceeded)
        XCTAssertEqual(try store.list().keys.count, 41)
    }
}
