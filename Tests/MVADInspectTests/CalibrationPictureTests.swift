// The calibration picture decodes as a PNG of the documented size and shows what it says:
// good (green) and bad (red) scores, the threshold (white), and the ROC panel with bad parts.

import XCTest
@testable import MVADInspect

final class CalibrationPictureTests: XCTestCase {
    private func colours(_ image: Image) -> Set<[Int]> {
        var seen = Set<[Int]>()
        for y in 0..<image.height {
            for x in 0..<image.width {
                seen.insert((0..<3).map { image.sample(x: x, y: y, channel: $0) })
            }
        }
        return seen
    }

    func testPictureDecodesWithItsParts() throws {
        let good = [1.0, 1.4, 2.0, 2.2, 3.0].enumerated().map { PartScore(id: "g\($0)", score: $1) }
        let bad = [2.9, 4.0, 5.5].enumerated().map { PartScore(id: "b\($0)", score: $1) }
        let result = try ThresholdCalibration.calibrate(good: good, bad: bad)
        let roc = try ThresholdCalibration.rocCurve(good: good, bad: bad)
        let bytes = try ImageWriter.encodePNG(CalibrationPicture.render(good: good, bad: bad,
                                                                         result: result, roc: roc))
        let decoded = try ImageDecoder.decode(bytes)
        XCTAssertEqual(decoded.width, 720)
        XCTAssertEqual(decoded.height, CalibrationPicture.height)
        let seen = colours(decoded)
        XCTAssertTrue(seen.contains([60, 190, 90]), "good scores drawn")
        XCTAssertTrue(seen.contains([220, 60, 50]), "bad scores drawn")
        XCTAssertTrue(seen.contains([255, 255, 255]), "threshold drawn")
        XCTAssertTrue(seen.contains([240, 200, 60]), "ROC curve drawn")

        let goodOnly = try ThresholdCalibration.calibrate(good: good)
        let narrow = CalibrationPicture.render(good: good, bad: [], result: goodOnly, roc: [])
        XCTAssertEqual(narrow.width, 480)
        XCTAssertFalse(colours(narrow).contains([220, 60, 50]))
    }
}
