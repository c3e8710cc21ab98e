// A station profile without model.bank: the banks (and threshold) stored in the .mvad pack are
// used, and give the scores of the same banks loaded from their own file (to int8 precision).

import Foundation
import MVADInspect
import MVADPack
import MVADStation
import XCTest

final class PackBanksTests: XCTestCase {
    /// An f32 pack of the fixture model, with the fixture bank (threshold set) stored in it
    /// when `banks` is given.
    private func pack(banks: BankFile?) throws -> String {
        var options = ConversionOptions(fold: false)
        options.attachments = try banks.map { [try $0.packAttachment()] } ?? []
        let output = try temporaryFolder().appendingPathComponent("model.mvad").path
        _ = try PackConverter.convert(modelFolder: Fixture.models, output: output, options: options)
        return output
    }

    func testAProfileWithoutABankUsesThePacksBanksAndThreshold() throws {
        var banks = try BankFile(path: Fixture.bank)
        banks.threshold = 37.5
        var profile = ModelProfile(path: try pack(banks: banks), bank: nil)
        profile.threads = 2
        let inspection = try PartInspection(profile: profile)
        XCTAssertEqual(inspection.inspector.threshold, 37.5)
        XCTAssertTrue(inspection.inspector.thresholdSource.hasPrefix("bank file"),
                      inspection.inspector.thresholdSource)
        XCTAssertTrue(inspection.thresholdOrigin.hasPrefix("banks stored in \(profile.path)"),
                      inspection.thresholdOrigin)
        var withThreshold = profile
        withThreshold.threshold = 40
        XCTAssertEqual(try PartInspection(profile: withThreshold).thresholdOrigin,
                       "the profile's model.threshold")

        let folder = URL(fileURLWithPath: Fixture.testParts)
        let views = try XCTUnwrap(PartFolder.part(id: "001", in: folder))
        let (fromPack, _) = try inspection.inspect(views)
        let (fromFile, _) = try Fixture.inspection().inspect(views)
        // Same model bits; the pack stores the banks as int8 with a scale per vector, which
        // moves scores by about 0.1 % on this fixture.
        XCTAssertEqual(fromPack.score, fromFile.score, accuracy: 0.01 * fromFile.score)
        XCTAssertNotEqual(fromPack.score, fromFile.score)
        XCTAssertEqual(fromPack.inspection.passed, fromPack.score < 37.5)
    }

    func testAPackWithoutBanksNeedsModelBank() throws {
        let profile = ModelProfile(path: try pack(banks: nil), bank: nil, threshold: 36)
        XCTAssertThrowsError(try PartInspection(profile: profile)) { error in
            XCTAssertTrue("\(error)".contains("holds no banks"), "\(error)")
            XCTAssertTrue("\(error)".contains("model.bank"), "\(error)")
        }
    }

    /// A station checks every tensor of its pack before the first part: a flipped byte in the
    /// weights (which opening alone does not read) refuses the start, naming the tensor.
    func testAStationRefusesAPackWithACorruptTensor() throws {
        var banks = try BankFile(path: Fixture.bank)
        banks.threshold = 37.5
        let path = try pack(banks: banks)
        XCTAssertNoThrow(try PartInspection(profile: ModelProfile(path: path, bank: nil)))

        let entry = try XCTUnwrap(try PackFile(path: path).entries.first {
            $0.name.hasPrefix("unet.") && $0.byteLength > 64
        })
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try handle.seek(toOffset: UInt64(entry.offset + entry.byteLength / 2))
        let byte = try XCTUnwrap(try handle.read(upToCount: 1)).first ?? 0
        try handle.seek(toOffset: UInt64(entry.offset + entry.byteLength / 2))
        try handle.write(contentsOf: Data([byte ^ 0x10]))
        try handle.close()

        // Opening and loading alone do not notice; the station does.
        XCTAssertNoThrow(try PackFile(path: path))
        XCTAssertThrowsError(try PartInspection(profile: ModelProfile(path: path, bank: nil))) {
            let text = "\($0)"
            XCTAssertTrue(text.contains("failed its full check") && text.contains(entry.name), text)
        }
    }
}
