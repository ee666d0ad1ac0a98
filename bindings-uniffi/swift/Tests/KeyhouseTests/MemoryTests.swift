import Foundation
import XCTest
@testable import Keyhouse

/// Objects are freed: 100,000 create/verify calls leave the resident set where it was.
final class MemoryTests: XCTestCase {
    func testALoopOfCreateAndVerifyKeepsMemoryFlat() throws {
        let store = try Keyhouse.open(path: try Support.tempDb(), config: Config(usageFlushInterval: 1))
        // A deleted key leaves the verify cache at once, so it stays small.
        // Each key is deleted again, so the database (and SQLite's page
        // cache, up to 64 MiB for the writer) stays the same size.
        func loop(_ n: Int) throws {
            for _ in 0..<n {
                let c = try store.create()
                XCTAssertEqual(try store.verify(key: c.key()).outcome, .valid)
                try store.delete(id: c.info().id)
            }
        }
        try loop(25_000)
        let start = try Support.rssKib()
        try loop(100_000)
        let end = try Support.rssKib()
        print("MemoryTests (Swift): RSS at start \(start) KiB, after 100000 create/verify \(end) KiB (\(end - start) KiB)")
        // A leaked CreatedKey holds its key and KeyInfo, ~400 bytes:
        // 100,000 of them would add ~40 MB.
        XCTAssertLessThan(end - start, 24 * 1024, "RSS grew from \(start) KiB to \(end) KiB")
        try store.close()
    }
}
