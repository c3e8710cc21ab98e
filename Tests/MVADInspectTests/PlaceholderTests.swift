import XCTest
@testable import MVADInspect
final class PlaceholderTests: XCTestCase { func testModuleLoads() {} }
