// The rejected-part store: one folder per part, oldest deleted first to stay under the cap.

import Foundation
import MVADStation
import XCTest

final class RejectStoreTests: XCTestCase {
    func testRotationKeepsTheNewestPartsUnderTheCap() throws {
        let root = try temporaryFolder()
        let view = root.appendingPathComponent("000_image_0.png")
        try Data(repeating: 7, count: 3000).write(to: view)
        let store = try RejectStore(folder: root.appendingPathComponent("rejects").path,
                                    maximumBytes: 10_000)
        var folders: [URL] = []
        for part in 1...5 {
            folders.append(try store.save(partNumber: part, id: "000", copying: [view],
                                          time: Date(timeIntervalSince1970: 1_800_000_000)) { f in
                try Data(repeating: 1, count: 200).write(to: f.appendingPathComponent("record.json"))
            })
        }
        // Each part holds 3000 + 200 bytes; 10 000 bytes fit three (9600), so parts 1 and 2 go.
        XCTAssertEqual(store.totalBytes, 9600)
        XCTAssertEqual(store.entries.count, 3)
        for (index, folder) in folders.enumerated() {
            XCTAssertEqual(FileManager.default.fileExists(atPath: folder.path), index >= 2,
                           folder.lastPathComponent)
        }
        XCTAssertTrue(folders[4].lastPathComponent.hasSuffix("-000005-p00000005-000"))

        // A new store on the same folder finds what is there and goes on rotating.
        let reopened = try RejectStore(folder: store.folder.path, maximumBytes: 6500)
        XCTAssertEqual(reopened.totalBytes, 9600)
        try reopened.save(partNumber: 6, id: "001", copying: [view], time: Date()) { _ in }
        // 9600 + 3000 = 12 600 > 6500: the two oldest (3200 each) go, leaving 3200 + 3000.
        XCTAssertEqual(reopened.totalBytes, 6200)
        XCTAssertEqual(reopened.entries.count, 2)
    }

    func testAPartLargerThanTheCapIsNotKeptAndTheOlderOnesStay() throws {
        let root = try temporaryFolder()
        let small = root.appendingPathComponent("small.png")
        let big = root.appendingPathComponent("big.png")
        try Data(repeating: 0, count: 1000).write(to: small)
        try Data(repeating: 0, count: 5000).write(to: big)
        let store = try RejectStore(folder: root.appendingPathComponent("r").path, maximumBytes: 4000)
        try store.save(partNumber: 1, id: "a", copying: [small], time: Date()) { _ in }
        XCTAssertThrowsError(try store.save(partNumber: 2, id: "b", copying: [big], time: Date()) { _ in }) {
            XCTAssertEqual($0 as? RejectStoreError, .largerThanCap(bytes: 5000, cap: 4000))
        }
        XCTAssertEqual(store.entries.map(\.name.last), ["a"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: store.folder.path).count, 1)
    }

    func testAFailedSaveLeavesNothingBehind() throws {
        let root = try temporaryFolder()
        let view = root.appendingPathComponent("000_image_0.png")
        try Data(repeating: 7, count: 100).write(to: view)
        let store = try RejectStore(folder: root.appendingPathComponent("r").path, maximumBytes: 10_000)
        let missing = root.appendingPathComponent("gone.png")
        XCTAssertThrowsError(try store.save(partNumber: 1, id: "a", copying: [view, missing],
                                            time: Date()) { _ in }) { error in
            guard case let .copyFailed(file, _)? = error as? RejectStoreError else {
                return XCTFail("expected copyFailed, got \(error)")
            }
            XCTAssertEqual(file, missing.path)
        }
        struct WriteFailed: Error {}
        XCTAssertThrowsError(try store.save(partNumber: 2, id: "b", copying: [view], time: Date()) { _ in
            throw WriteFailed()
        })
        XCTAssertTrue(store.entries.isEmpty)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: store.folder.path), [])

        // A half-written part left by a crash is cleared when the store opens.
        let stale = store.folder.appendingPathComponent(".20261203T000000.000Z-000001-p00000001-a.partial")
        try FileManager.default.createDirectory(at: stale, withIntermediateDirectories: true)
        let reopened = try RejectStore(folder: store.folder.path, maximumBytes: 10_000)
        XCTAssertTrue(reopened.entries.isEmpty)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale.path))
    }

    /// Files and folders the store did not write are neither counted nor deleted, however old
    /// their names sort.
    func testOnlyTheStoresOwnFoldersRotate() throws {
        let root = try temporaryFolder()
        let view = root.appendingPathComponent("000_image_0.png")
        try Data(repeating: 7, count: 3000).write(to: view)
        let folder = root.appendingPathComponent("r")
        let files = FileManager.default
        try files.createDirectory(at: folder.appendingPathComponent("000-keep-me"),
                                  withIntermediateDirectories: true)
        try Data(repeating: 1, count: 50_000).write(
            to: folder.appendingPathComponent("000-keep-me/notes.txt"))
        try Data("hi".utf8).write(to: folder.appendingPathComponent("README.txt"))
        let store = try RejectStore(folder: folder.path, maximumBytes: 7000)
        XCTAssertTrue(store.entries.isEmpty)
        for part in 1...4 {
            try store.save(partNumber: part, id: "000", copying: [view], time: Date()) { _ in }
        }
        XCTAssertEqual(store.entries.count, 2)
        XCTAssertEqual(store.totalBytes, 6000)
        XCTAssertTrue(files.fileExists(atPath: folder.appendingPathComponent("000-keep-me/notes.txt").path))
        XCTAssertTrue(files.fileExists(atPath: folder.appendingPathComponent("README.txt").path))
        // Reopened, it finds its two folders and nothing else.
        XCTAssertEqual(try RejectStore(folder: folder.path, maximumBytes: 7000).entries.count, 2)
    }

    func testAFileWhereTheFolderShouldBeIsNamed() throws {
        let file = try temporaryFolder().appendingPathComponent("rejects")
        try Data("x".utf8).write(to: file)
        XCTAssertThrowsError(try RejectStore(folder: file.path, maximumBytes: 1000)) {
            guard case let .folderUnusable(path, _)? = $0 as? RejectStoreError else {
                return XCTFail("\($0)")
            }
            XCTAssertEqual(path, file.path)
        }
    }
}
