import Foundation
import XCTest
@testable import Keyhouse

/// Bad input gets an outcome or a typed error with a stable code, never a crash.
final class BadInputTests: XCTestCase {
    var store: Keyhouse!
    var good: String!

    override func setUpWithError() throws {
        store = try Keyhouse.open(path: ":memory:")
        good = try store.create(options: CreateOptions(prefix: "acme")).key()
    }

    func reason(_ key: String) throws -> MalformedReason? {
        let r = try store.verify(key: key)
        XCTAssertEqual(r.outcome, .malformed, String(key.prefix(40)))
        return r.malformedReason
    }

    func fails(_ code: String, _ call: @autoclosure () throws -> Any, line: UInt = #line) {
        XCTAssertThrowsError(try call(), line: line) { error in
            XCTAssertEqual((error as? KeyhouseError)?.code(), code, "\(error)", line: line)
        }
    }

    func testAnUnreachableOrRefusingPostgresServerIsStoreErrorWithoutThePassword() throws {
        let quick = Config(connectTimeout: 0.5)
        let started = Date()
        fails("STORE_ERROR", try Keyhouse.open(path: "postgres://app:hunter2secret@127.0.0.1:1/db?sslmode=disable", config: quick))
        XCTAssertLessThan(Date().timeIntervalSince(started), 3)
        let url = try Support.pgUrl()
        let wrong = url.replacingOccurrences(of: ":[^:@/]*@", with: ":hunter2secret@", options: .regularExpression)
        XCTAssertThrowsError(try Keyhouse.open(path: wrong, config: quick)) { error in
            XCTAssertEqual((error as? KeyhouseError)?.code(), "STORE_ERROR")
            XCTAssertFalse("\(error)".contains("hunter2secret"), "\(error)")
        }
        fails("INVALID_ARGUMENT", try Keyhouse.open(path: url, config: Config(schema: "Bad-Name")))
    }

    func testBadKeysAreOutcomesOfVerifyAndErrorsOfParse() throws {
        XCTAssertEqual(try reason(""), .empty)
        XCTAssertEqual(try reason("kh_" + String(repeating: "a", count: 10 * 1024)), .tooLong)
        let typo = String(good.dropLast()) + (good.hasSuffix("A") ? "B" : "A")
        XCTAssertEqual(try reason(typo), .checksumMismatch)
        XCTAssertEqual(try reason(good + "\u{0}"), .invalidCharacter)
        XCTAssertEqual(try reason("kh_😀"), .invalidCharacter)
        fails("MALFORMED", try parse(key: ""))
        fails("MALFORMED", try parse(key: String(repeating: "x", count: 10 * 1024)))
        fails("MALFORMED", try hashKey(key: typo))
    }

    func testAKeyOfAnotherPrefixIsNotFound() throws {
        XCTAssertEqual(try store.verify(key: try generate(prefix: "other").key()).outcome, .notFound)
        let moved = try testGenerateFromBytes(prefix: "acmf", random: Data(repeating: 7, count: 42), secretBytes: 32)
        XCTAssertEqual(try store.verify(key: moved.key()).outcome, .notFound)
    }

    func testNegativeAndNonFiniteDurationsAreInvalidArguments() throws {
        let id = try parse(key: good).id
        for bad in [-1, -0.5, .nan, .infinity, -.infinity] as [TimeInterval] {
            fails("INVALID_ARGUMENT", try store.create(options: CreateOptions(expiresIn: bad)))
            fails("INVALID_ARGUMENT", try store.create(options: CreateOptions(rateLimit: RateLimit(limit: 1, window: bad))))
            fails("INVALID_ARGUMENT", try store.create(options: CreateOptions(remaining: 1, refill: Refill(amount: 1, interval: bad))))
            fails("INVALID_ARGUMENT", try store.roll(id: id, grace: bad))
            fails("INVALID_ARGUMENT", try Keyhouse.open(path: ":memory:", config: Config(busyTimeout: bad)))
        }
    }

    func testOutOfRangeValuesAreInvalidArguments() throws {
        fails("INVALID_ARGUMENT", try store.verify(key: good, cost: -1))
        fails("INVALID_ARGUMENT", try store.verify(key: good, cost: 1 << 40))
        fails("INVALID_ARGUMENT", try store.verify(key: good, permissions: [""]))
        fails("INVALID_ARGUMENT", try store.list(options: ListOptions(limit: -5)))
        fails("INVALID_ARGUMENT", try store.list(options: ListOptions(limit: 0)))
        fails("INVALID_ARGUMENT", try store.list(options: ListOptions(cursor: "not a cursor")))
        fails("INVALID_ARGUMENT", try store.create(options: CreateOptions(rateLimit: RateLimit(limit: -1, window: 1))))
        fails("INVALID_ARGUMENT", try store.create(options: CreateOptions(prefix: "Bad Prefix")))
        fails("INVALID_ARGUMENT", try store.create(options: CreateOptions(expiresAt: Date(timeIntervalSince1970: 978_307_200))))
        fails("INVALID_ARGUMENT", try store.create(options: CreateOptions(expiresAt: Date(timeIntervalSince1970: -.infinity))))
        fails("INVALID_ARGUMENT", try store.create(options: CreateOptions(expiresAt: Date(timeIntervalSince1970: .nan))))
        fails("INVALID_ARGUMENT", try generate(secretBytes: -1))
        fails("INVALID_ARGUMENT", try generate(secretBytes: 1 << 40))
        fails("INVALID_ARGUMENT", try generate(prefix: ""))
        fails("INVALID_ARGUMENT", try Pepper(id: "p", secret: Data(count: 3)))
        fails("INVALID_ARGUMENT", try Keyhouse.open(path: ":memory:", config: Config(secretBytes: 8)))
        fails("INVALID_ARGUMENT", try Keyhouse.open(path: ":memory:", config: Config(maxKeysPerOwner: -1)))
        fails("INVALID_ARGUMENT", try verifyHash(key: good, storedHash: "md5$abc"))
    }

    func testMetadataMustBeAJsonObject() throws {
        for bad in ["", "[]", "1", "null", "{", #"{"a":}"#, #""text""#] {
            fails("INVALID_ARGUMENT", try store.create(options: CreateOptions(metadata: bad)))
        }
        let id = try parse(key: good).id
        fails("INVALID_ARGUMENT", try store.update(id: id, options: UpdateOptions(metadata: "[1]")))
        XCTAssertEqual(try store.get(id: id).metadata, "{}")
    }

    func testBadIdsAreInvalidUnknownIdsNotFoundAndNothingIsWritten() throws {
        for id in ["", "nope", String(repeating: "a", count: 10 * 1024)] {
            fails("INVALID_ARGUMENT", try store.get(id: id))
            fails("INVALID_ARGUMENT", try store.revoke(id: id))
            fails("INVALID_ARGUMENT", try store.update(id: id, options: UpdateOptions(name: "x")))
        }
        fails("NOT_FOUND", try store.get(id: "00000000000000"))
        fails("NOT_FOUND", try store.revoke(id: "00000000000000"))
        fails("NOT_FOUND", try store.update(id: "00000000000000", options: UpdateOptions(name: "x")))
        XCTAssertEqual(try store.list(options: ListOptions(includeRevoked: true)).keys.count, 1)
        XCTAssertTrue(try store.verify(key: good).isValid())
    }
}
