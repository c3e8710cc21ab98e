// The models `mvad bench` times: the float diffusers folders of tools/reference/full_size.py,
// or an inspection model (a .mvad pack, e.g. int8, or a model folder with settings.json) that
// also runs the full-part workload.

import Foundation
import MVADEngine
import MVADInspect
import MVADKernels

/// What the bench runs on the mvad side.
struct BenchModels {
    var unet: UNet2DConditionModel?
    var control: ControlNetModel?
    var vae: VAEEncoder?
    /// Set for --model: the whole method, for the full-part workload.
    var inspection: InspectionModel?

    /// Float components from the folders under `models` (only those `only` needs).
    static func folders(_ models: String, only: Set<String>) throws -> BenchModels {
        var result = BenchModels()
        if !only.isDisjoint(with: ["unet", "unet+controlnet"]) {
            BenchCommand.log("mvad: loading \(models)/unet")
            result.unet = try DiffusersModels.unet(folder: models + "/unet")
        }
        if !only.isDisjoint(with: ["controlnet", "unet+controlnet"]) {
            BenchCommand.log("mvad: loading \(models)/controlnet")
            result.control = try DiffusersModels.controlNet(folder: models + "/controlnet")
        }
        if only.contains("vae") {
            BenchCommand.log("mvad: loading \(models)/vae")
            result.vae = try DiffusersModels.vaeEncoder(folder: models + "/vae")
        }
        return result
    }

    /// Every component from one inspection model, loaded once: the component workloads and
    /// the full part share its weights, as an inspection would.
    static func inspection(_ path: String) throws -> BenchModels {
        let model = try InspectSupport.loadModel(path)
        guard let control = model.control else {
            throw BenchFailure(description: "bench: \(path) has no ControlNet or ControlLoRA; "
                               + "the workloads need one")
        }
        return BenchModels(unet: model.unet, control: control, vae: model.vae, inspection: model)
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
}

/// The full-part workload: one part's 7 VAE encodes, DDIM inversion of its 12 pairs and the
/// final feature evaluation (72 UNet + ControlNet image evaluations), as `mvad inspect` runs it.
struct PartWorkload {
    let model: InspectionModel
    let images: PartImages

    /// `prefix` names the part's views: <prefix>_image_0..5.<ext> and <prefix>_normals.<ext>.
    init(model: InspectionModel, prefix: String) throws {
        let url = URL(fileURLWithPath: prefix)
        let folder = url.deletingLastPathComponent()
        let id = url.lastPathComponent
        guard let views = try PartFolder.part(id: id, in: folder) else {
            throw BenchFailure(description: "bench: no part '\(id)' in \(folder.path); --part "
                               + "takes a path prefix such as DIR/000 (DIR/000_image_0.png ...)")
        }
        let loaded = try PartLoader.load(views, size: model.settings.imageSize, modality: .both,
                                         includeMask: false)
        self.model = model
        images = PartImages(lights: loaded.lights, normals: loaded.normals)
    }

    func run(_ compute: Compute) throws {
        _ = try FeatureExtractor(model: model, compute: compute).features(of: images,
                                                                         modality: .both)
    }
}

/// The machine's int8 peak and what the UNet + ControlNet evaluation reached.
struct Int8Throughput {
    /// Peak of the fastest int8 path, per core times threads, in GOPS (2 ops a multiply-add).
    let peakGOPS: Double
    /// Multiply-adds the int8 kernels did in one UNet + ControlNet evaluation.
    let multiplyAdds: UInt64
    let path: String

    static func measure(threads: Int, multiplyAdds: UInt64) -> Int8Throughput {
        let perCore = mvad_s8_peak_gops(1.0)
        let path = String(cString: mvad_s8_path_name(mvad_gemm_s8_path()))
        return Int8Throughput(peakGOPS: perCore * Double(threads), multiplyAdds: multiplyAdds,
                              path: path)
    }

    /// The evaluation's int8 operations per second over its whole wall time.
    func achievedGOPS(seconds: Double) -> Double {
        2 * Double(multiplyAdds) / seconds / 1e9
    }
}
