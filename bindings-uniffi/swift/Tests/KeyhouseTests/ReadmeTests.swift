import Foundation
import XCTest
import Keyhouse

/// The README's Swift example, with an in-memory store.
final class ReadmeTests: XCTestCase {
    func testTheReadmeExampleRuns() throws {
        var printed: [String] = []
        func print(_ items: Any...) { printed.append(items.map { "\($0)" }.joined(separator: " ")) }

        let kh = try Keyhouse.open(path: ":memory:")
        let created = try kh.create(options: CreateOptions(ownerId: "team-42", expiresIn: 30 * 86400,
                                                           permissions: ["files:*"], rateLimit: RateLimit(limit: 100, window: 60)))
        print(created.key())

        let result = try kh.verify(key: created.key(), permissions: ["files:read"])
        switch result.outcome {
        case .valid: print(result.key!.ownerId ?? "")
        case .rateLimited: print("retry after", result.retryAfter!, "s")
        default: print(result.outcome.code())
        }
        do { _ = try kh.get(id: "00000000000000") } catch let e as KeyhouseError { print(e.code()) }
        try kh.close()
        XCTAssertEqual(Array(printed.dropFirst()), ["team-42", "NOT_FOUND"])
    }
}
