"""Unit tests of the training tools (CPU, a few seconds): the feature-consistency loss against a
hand computation, the ControlLoRA file against the wrapped model it was saved from, the pairs
of the two phases, part discovery, and the bank metadata strings `mvad` compares.

    python -m unittest discover -s tools/train -p 'test_*.py'
"""

import os
import tempfile
import unittest

import torch

import build_bank
import train_common as common
import train_controlnet


def tiny_unet():
    """A 2-block UNet with cross-attention (16 / 32 channels, context width 8)."""
    from diffusers import UNet2DConditionModel
    return UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), block_out_channels=(16, 32),
        layers_per_block=1, attention_head_dim=4, cross_attention_dim=8, norm_num_groups=8)


class FeatureLossTest(unittest.TestCase):
    def test_matches_hand_computation(self):
        # Block 1: pairs [0, 0] and [2, 4] -> mean [1, 2]; |dev| = [1, 2] per pair, mean 1.5
        # each, sum 3. Block 2: pairs [1] and [1]: no deviation.
        block_one = torch.tensor([[0.0, 0.0], [2.0, 4.0]])
        block_two = torch.tensor([[1.0], [1.0]])
        loss = train_controlnet.feature_consistency([block_one, block_two])
        self.assertAlmostEqual(float(loss), 3.0, places=6)

    def test_three_pairs(self):
        # Pairs 0, 3, 6 -> mean 3, deviations 3, 0, 3: sum 6.
        loss = train_controlnet.feature_consistency([torch.tensor([[0.0], [3.0], [6.0]])])
        self.assertAlmostEqual(float(loss), 6.0, places=6)


class PairsTest(unittest.TestCase):
    def test_phases(self):
        latents = torch.arange(7.0).reshape(7, 1, 1, 1).expand(7, 4, 2, 2)
        views = torch.linspace(-1, 1, 7).reshape(7, 1, 1, 1).expand(7, 3, 4, 4)
        (inputs_one, conditions_one), (inputs_two, conditions_two) = \
            train_controlnet.part_pairs(latents, views)
        self.assertEqual(inputs_one[:, 0, 0, 0].tolist(), [0, 1, 2, 3, 4, 5])
        self.assertEqual(inputs_two[:, 0, 0, 0].tolist(), [6] * 6)
        # The normal map (view 6, value 1 in [-1, 1]) is 1 in [0, 1]; view 0 is 0.
        self.assertEqual(conditions_one[:, 0, 0, 0].tolist(), [1.0] * 6)
        self.assertAlmostEqual(float(conditions_two[0, 0, 0, 0]), 0.0, places=6)
        self.assertAlmostEqual(float(conditions_two[3, 0, 0, 0]), 0.5, places=6)


class ControlLoRAFileTest(unittest.TestCase):
    def test_saved_file_equals_wrapped_model(self):
        from diffusers import ControlNetModel
        torch.manual_seed(0)
        unet = tiny_unet().eval()
        controlnet = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(8, 8))
        train_controlnet.add_lora_(controlnet, rank=2, alpha=3.0)
        with torch.no_grad():
            for parameter in controlnet.parameters():
                if parameter.requires_grad:                 # LoRA B and zero convs start at 0
                    parameter.normal_(0, 0.1)
        controlnet.eval()
        with tempfile.TemporaryDirectory() as folder:
            train_controlnet.save_controllora(controlnet, folder, 2, 3.0)
            config = common.reference_common.read_json(os.path.join(folder, "config.json"))
            tensors, _ = common.reference_common.read_safetensors(
                os.path.join(folder, "diffusion_pytorch_model.safetensors"))
        self.assertEqual((config["lora_rank"], config["lora_alpha"]), (2, 3.0))
        self.assertTrue(all(key.startswith(common.reference_common.CONTROLNET_OWN_PREFIXES)
                            or key.endswith((".lora_A.weight", ".lora_B.weight"))
                            for key in tensors))
        merged = common.reference_common.controllora_reference(unet, config, tensors)

        sample, context = torch.randn(2, 4, 8, 8), torch.randn(2, 5, 8)
        condition = torch.rand(2, 3, 16, 16)
        with torch.no_grad():
            ours = controlnet(sample, 21, encoder_hidden_states=context,
                              controlnet_cond=condition, return_dict=False)
            theirs = merged(sample, 21, encoder_hidden_states=context,
                            controlnet_cond=condition, return_dict=False)
        for a, b in zip([*ours[0], ours[1]], [*theirs[0], theirs[1]]):
            self.assertGreater(float(a.abs().max()), 1e-3)
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


class PartsTest(unittest.TestCase):
    def test_numeric_order_and_completeness(self):
        with tempfile.TemporaryDirectory() as root:
            data = os.path.join(root, "Candy", "train", "data")
            os.makedirs(data)
            for part in ("9", "10"):
                for view in common.VIEW_NAMES + ["depth"]:
                    open(os.path.join(data, f"{part}_{view}.png"), "w").close()
            open(os.path.join(data, "011_image_0.png"), "w").close()
            folder = common.split_folder(root, None, "train")
            self.assertEqual(folder, data)
            parts = common.list_parts(folder)
            self.assertEqual(list(parts), ["9", "10", "011"])
            complete, incomplete = common.complete_parts(parts)
            self.assertEqual((list(complete), incomplete), (["9", "10"], ["011"]))
            self.assertEqual(len(complete["9"]), 7)


class BankSettingsTest(unittest.TestCase):
    def test_strings_as_swift_prints_them(self):
        settings = dict(build_bank.DEFAULT_SETTINGS, feature_blocks=[1, 2], image_size=32,
                        conditioning_scale=0.7)
        strings = build_bank.bank_settings(settings, "both")
        self.assertEqual(strings["timesteps"], "[1, 21, 41, 61, 81]")
        self.assertEqual(strings["feature_blocks"], "[1, 2]")
        self.assertEqual(strings["conditioning_scale"], "0.7")
        self.assertEqual(strings["feature_source"], "unet+controlnet")
        self.assertEqual(build_bank.swift_float(1), "1.0")
        self.assertEqual(build_bank.bank_settings(settings, "rgb")["feature_source"], "unet")


if __name__ == "__main__":
    unittest.main()
