import Foundation
import XCTest
@testable import Keyhouse

/// generate, parse, hashKey and verifyHash: keys without a store.
final class StatelessTests: XCTestCase {
    let pepper = try! Pepper(id: "p2026", secret: Data((0..<32).map { UInt8($0) }))

    func testGenerateMakesParseableKeysWithMatchingHashes() throws {
        let g = try generate()
        XCTAssertTrue(g.key().hasPrefix("kh_"))
        XCTAssertEqual(try parse(key: g.key()), ParsedKey(prefix: "kh", id: g.id()))
        XCTAssertTrue(g.hash().hasPrefix("sha256$"))
        XCTAssertTrue(try verifyHash(key: g.key(), storedHash: g.hash()))
        XCTAssertNotEqual(g.key(), try generate().key())

        let peppered = try generate(prefix: "acme_live", secretBytes: 16, pepper: pepper)
        XCTAssertEqual(peppered.prefix(), "acme_live")
        XCTAssertTrue(peppered.hash().hasPrefix("hmac-sha256$p2026$"))
        XCTAssertTrue(try verifyHash(key: peppered.key(), storedHash: peppered.hash(), peppers: [pepper]))
        XCTAssertEqual(try hashKey(key: peppered.key(), pepper: pepper), peppered.hash())
        XCTAssertFalse(try verifyHash(key: g.key(), storedHash: peppered.hash(), peppers: [pepper]))
    }

    func testAHashWithAnUnknownPepperIsAnError() throws {
        let g = try generate(pepper: pepper)
        XCTAssertThrowsError(try verifyHash(key: g.key(), storedHash: g.hash())) { error in
            guard case KeyhouseError.UnknownPepper = error else { return XCTFail("\(error)") }
            XCTAssertEqual((error as! KeyhouseError).code(), "UNKNOWN_PEPPER")
        }
    }

    func testSecretsNeverShowInDescriptions() throws {
        let g = try generate()
        for text in [String(describing: g), String(reflecting: g), "\(g)"] {
            XCTAssertFalse(text.contains(g.key()), text)
        }
        XCTAssertTrue(String(describing: g).contains(g.id()))
        XCTAssertTrue(String(describing: pepper).contains("<redacted>"), String(describing: pepper))
        XCTAssertFalse(String(describing: pepper).contains("[0, 1, 2"))
        XCTAssertEqual(pepper.id(), "p2026")
    }

    func testStableCodesMatchTheOtherLanguages() {
        let outcomes: [Outcome] = [.valid, .malformed, .notFound, .revoked, .disabled, .expired, .insufficientPermissions, .rateLimited, .usageExceeded]
        XCTAssertEqual(outcomes.map { $0.code() }, ["VALID", "MALFORMED", "NOT_FOUND", "REVOKED", "DISABLED", "EXPIRED", "INSUFFICIENT_PERMISSIONS", "RATE_LIMITED", "USAGE_EXCEEDED"])
        XCTAssertEqual(MalformedReason.checksumMismatch.code(), "CHECKSUM_MISMATCH")
    }

    func testErrorsAreTypedAndCarryAMessage() {
        XCTAssertThrowsError(try parse(key: "kh_short")) { error in
            guard case let KeyhouseError.Malformed(reason, detail) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(reason, .missingSeparator)
            XCTAssertTrue(detail.hasPrefix("malformed key"), detail)
            XCTAssertEqual((error as! KeyhouseError).code(), "MALFORMED")
        }
    }
}
