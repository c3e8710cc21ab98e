// The feature-map bicubic resize against torch's interpolate(mode="bicubic",
// align_corners=False) (Fixtures/resize, written by tools/reference/make_resize_fixture.py).

import Foundation
import XCTest
@testable import MVADEngine
@testable import MVADInspect

final class FeatureResizeTests: XCTestCase {
    func testBicubicResizeMatchesTorch() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/resize/bicubic.safetensors").path
        let file = try SafeTensorsFile(path: path)
        let x = try file.tensor("x")
        for name in file.names where name.hasPrefix("y.") {
            let expected = try file.tensor(name)
            let (h, w) = (expected.shape[2], expected.shape[3])
            let actual = BicubicResize.resize(x, height: h, width: w, compute: Compute(threads: 2))
            XCTAssertEqual(actual.shape, expected.shape, name)
            let worst = zip(actual.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThanOrEqual(worst, 2e-6, "\(name): max abs difference \(worst)")
        }
    }
}
