// Int8 execution from an int8 pack (issue 4): the UNet, ControlNet and VAE encoder built from
// it hold their per-channel int8 weights as int8 layers, run close to the float folder models,
// and give the same bits on any thread count.

import Foundation
import MVADEngine
import XCTest
@testable import MVADPack

final class Int8ExecutionTests: PackTestCase {
    /// Relative L2 of each output against the folder's fp32 models. Measured on this fixture
    /// with int8 layers (weights and activations int8): noise 3.4e-2, control mid 4.4e-2,
    /// control down 0 6.4e-4, latent 2.0e-2. Weight-only int8 (the same pack dequantised to
    /// fp32) gave 2.1e-2, 2.5e-2, 3.9e-4 and 9.2e-3, so quantising the activations adds about
    /// as much error again. The limit leaves 1.8x room over the worst output.
    static let int8Limit = 8e-2

    /// The models built from one pack or folder, and the prompt they run with.
    struct Models {
        let unet: UNet2DConditionModel
        let control: ControlNetModel
        let vae: VAEEncoder
        let context: Tensor
    }

    /// The outputs compared: UNet noise prediction, ControlNet residuals, VAE latent.
    struct Outputs {
        let noise: Tensor
        let controlMid: Tensor
        let controlFirstDown: Tensor
        let latent: Tensor

        var named: [(String, Tensor)] {
            [("noise", noise), ("control mid", controlMid),
             ("control down 0", controlFirstDown), ("latent", latent)]
        }
    }

    func convert(_ weights: ConversionOptions.Weights) throws -> PackFile {
        let output = path("model-\(weights.rawValue).mvad")
        _ = try PackConverter.convert(modelFolder: ConvertTests.modelFolder, output: output,
                                  options: ConversionOptions(weights: weights))
        return try PackFile(path: output)
    }

    func packModels(_ pack: PackFile) throws -> Models {
        Models(unet: try PackModels.unet(pack: pack),
               control: try XCTUnwrap(try PackModels.controlNet(pack: pack)),
               vae: try PackModels.vaeEncoder(pack: pack),
               context: try PackModels.promptEmbedding(pack: pack))
    }

    func folderModels() throws -> Models {
        let folder = ConvertTests.modelFolder
        let context = try SafeTensorsFile(path: folder + "/prompt_embedding.safetensors")
            .tensor("encoder_hidden_states")
        return Models(unet: try DiffusersModels.unet(folder: folder + "/unet"),
                      control: try XCTUnwrap(
                        try DiffusersModels.controlNet(folder: folder + "/controlnet")),
                      vae: try DiffusersModels.vaeEncoder(folder: folder + "/vae"),
                      context: context)
    }

    /// One ControlNet + UNet step at t = 21 on an 8x8 latent, and one 16x16 VAE encode.
    func run(_ models: Models, threads: Int) throws -> Outputs {
        let c = Compute(threads: threads)
        let sample = ConvertTests.pseudoRandom([1, 4, 8, 8], seed: 1)
        let condition = ConvertTests.pseudoRandom([1, 3, 16, 16], seed: 2).scalars
            .map { ($0 + 1) / 2 }
        let image = ConvertTests.pseudoRandom([1, 3, 16, 16], seed: 3)
        let residuals = try models.control(
            sample: sample, timesteps: [21], context: models.context,
            condition: Tensor(shape: [1, 3, 16, 16], scalars: condition), compute: c)
        let noise = try models.unet(sample: sample, timesteps: [21], context: models.context,
                                    residuals: residuals, compute: c).noisePrediction
        return Outputs(noise: try XCTUnwrap(noise), controlMid: residuals.mid,
                       controlFirstDown: residuals.down[0],
                       latent: try models.vae.encode(image, compute: c))
    }

    func testInt8PackBuildsOneInt8LayerPerInt8Weight() throws {
        let pack = try convert(.int8PerChannel)
        let models = try packModels(pack)
        for (prefix, model) in [(PackModels.unetPrefix, models.unet as Any),
                                (PackModels.controlNetPrefix, models.control),
                                (PackModels.vaePrefix, models.vae)] {
            let stored = pack.entries.filter {
                $0.name.hasPrefix(prefix) && $0.quantization == .int8Panels
            }.count
            let layers = LayerCount(model)
            XCTAssertGreaterThan(stored, 0, prefix)
            XCTAssertEqual(layers.int8, stored, prefix)
            XCTAssertGreaterThan(layers.float, 0, "\(prefix): edge layers stay float")
            // Every int8 layer multiplies straight from the mapped pack: no copy at load.
            let matrices = QuantizedLayers(model).matrices
            XCTAssertEqual(matrices.count, stored, prefix)
            XCTAssertTrue(matrices.values.allSatisfy(\.borrowsPackedBytes), prefix)
        }
    }

    func testFloat32PackBuildsNoInt8Layers() throws {
        let models = try packModels(try convert(.float32))
        for model in [models.unet as Any, models.control, models.vae] {
            XCTAssertEqual(LayerCount(model).int8, 0)
        }
    }

    func testInt8PackRunsCloseToTheFloatFolder() throws {
        let expected = try run(folderModels(), threads: 1)
        let actual = try run(packModels(convert(.int8PerChannel)), threads: 1)
        for ((name, a), (_, e)) in zip(actual.named, expected.named) {
            XCTAssertEqual(a.shape, e.shape, name)
            let error = relativeDifference(a, e)
            XCTAssertGreaterThan(error, 0, "\(name): int8 layers ran")
            XCTAssertLessThan(error, Self.int8Limit, name)
        }
    }

    func testInt8PackGivesTheSameBitsOnAnyThreadCount() throws {
        let models = try packModels(convert(.int8PerChannel))
        let single = try run(models, threads: 1)
        for threads in [2, 4] {
            let outputs = try run(models, threads: threads)
            for ((name, a), (_, e)) in zip(outputs.named, single.named) {
                XCTAssertEqual(a.shape, e.shape, name)
                let same = zip(a.scalars, e.scalars).allSatisfy { $0.bitPattern == $1.bitPattern }
                XCTAssertTrue(same, "\(name) differs between 1 and \(threads) threads")
            }
        }
    }

    func testZeroScaleRowsAreServedAsZerosWithScaleOne() throws {
        var writer = PackWriter()
        writer.add("c.q", dtype: .int8, shape: [3, 2], bytes: [1, 255, 7, 9, 0, 0],
                   quantization: .int8PerChannel, scales: "c.q.scales")
        writer.add("c.q.scales", tensor: Tensor(shape: [3], scalars: [0.5, 0, 0]))
        try writer.write(to: path("zero-rows.mvad"))
        let weights = PackWeights(pack: try PackFile(path: path("zero-rows.mvad")), prefix: "c.")
        let int8 = try XCTUnwrap(try weights.quantized("q"))
        XCTAssertEqual(int8.values, [1, -1, 0, 0, 0, 0])
        XCTAssertEqual(int8.scales, [0.5, 1, 1])
        XCTAssertEqual(try weights.tensor("q").scalars, [0.5, -0.5, 0, 0, 0, 0])
    }

    /// ||a - e|| / ||e||.
    func relativeDifference(_ a: Tensor, _ e: Tensor) -> Double {
        var (difference, reference) = (0.0, 0.0)
        for (x, y) in zip(a.scalars, e.scalars) {
            difference += Double(x - y) * Double(x - y)
            reference += Double(y) * Double(y)
        }
        return (difference / max(reference, .leastNonzeroMagnitude)).squareRoot()
    }
}

/// The linear and conv layers of a model, found by walking its stored properties.
struct LayerCount {
    var int8 = 0
    var float = 0

    init(_ model: Any) { visit(model) }

    private mutating func visit(_ value: Any) {
        switch value {
        case let conv as Conv2d: conv.quantized == nil ? (float += 1) : (int8 += 1)
        case let linear as Linear: linear.quantized == nil ? (float += 1) : (int8 += 1)
        case is Tensor: break
        default: Mirror(reflecting: value).children.forEach { visit($0.value) }
        }
    }
}

/// The int8 layers of a model by path (Mirror labels joined with dots): its linear layers, and
/// the int8 matrix of every linear and conv layer that holds one.
struct QuantizedLayers {
    var linears: [(String, Linear)] = []
    var matrices: [String: QuantizedMatrix] = [:]

    init(_ model: Any) { visit(model, path: "") }

    private mutating func visit(_ value: Any, path: String) {
        switch value {
        case let conv as Conv2d:
            if let matrix = conv.quantized { matrices[path] = matrix }
        case let linear as Linear:
            linears.append((path, linear))
            if let matrix = linear.quantized { matrices[path] = matrix }
        case is Tensor: break
        default:
            for (i, child) in Mirror(reflecting: value).children.enumerated() {
                visit(child.value, path: path + "." + (child.label ?? "\(i)"))
            }
        }
    }
}
