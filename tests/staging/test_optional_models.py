"""Optional models: ADE20K segmentation for the mask, monocular depth for the ControlNet.

Tiny random transformers models are saved to a folder and loaded through the same
``from_pretrained`` code as real ones; the segmentation rules are checked on a label map.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import transformers

from tests.staging.conftest import engine_settings
from vstage.staging.backend import ModelNotFound
from vstage.staging.engine import StageParams, StagingEngine
from vstage.staging.mask import SegmentationMasker, mask_from_labels
from vstage.staging.structure import DepthEstimator, build_structure

ADE = {0: "wall", 1: "floor, flooring", 2: "ceiling", 3: "windowpane, window", 4: "door", 5: "sofa"}


@pytest.fixture(scope="module")
def tiny_segformer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("segformer")
    options: dict[str, Any] = {
        "num_encoder_blocks": 2, "depths": [1, 1], "sr_ratios": [4, 2], "hidden_sizes": [8, 16],
        "patch_sizes": [7, 3], "strides": [4, 2], "num_attention_heads": [1, 1],
        "mlp_ratios": [2, 2], "decoder_hidden_size": 16, "num_labels": len(ADE),
        "id2label": ADE, "label2id": {v: k for k, v in ADE.items()},
    }  # fmt: skip
    config = transformers.SegformerConfig(**options)
    transformers.SegformerForSemanticSegmentation(config).save_pretrained(folder)
    transformers.SegformerImageProcessor(size={"height": 128, "width": 128}).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_dpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dpt")
    options: dict[str, Any] = {
        "hidden_size": 16, "num_hidden_layers": 4, "num_attention_heads": 2,
        "intermediate_size": 32, "image_size": 64, "patch_size": 16,
        "neck_hidden_sizes": [8, 8, 8, 8], "fusion_hidden_size": 8,
        "backbone_out_indices": [0, 1, 2, 3], "head_hidden_size": 8,
    }  # fmt: skip
    config = transformers.DPTConfig(**options)
    transformers.DPTForDepthEstimation(config).save_pretrained(folder)
    transformers.DPTImageProcessor(size={"height": 64, "width": 64}).save_pretrained(folder)
    return folder


def test_label_rules_keep_openings_and_ceiling_out() -> None:
    ids = np.zeros((200, 300), np.int32)  # wall everywhere
    ids[:40] = 2  # ceiling
    ids[130:] = 1  # floor
    ids[60:110, 30:90] = 3  # window, above the wall band's reach
    ids[70:130, 200:250] = 4  # door down to the floor
    ids[120:160, 100:160] = 5  # sofa
    ids[5, 5] = 1  # a stray floor pixel in the ceiling must not move the floor line

    mask = mask_from_labels(ids, ADE).binary > 0

    assert not mask[:40].any()
    assert not mask[60:110, 30:90].any()
    assert not mask[70:130, 200:250].any()
    assert mask[140:, 10:190].all()  # floor
    assert mask[125:160, 105:155].all()  # the sofa may be restaged
    assert mask[75:125, 120:180].all()  # wall band above the floor
    assert not mask[40:60, 120:180].any()  # wall higher up stays


def test_segmentation_model_loads_and_masks_at_image_size(tiny_segformer: Path) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (96, 160, 3), np.uint8)
    masker = SegmentationMasker(str(tiny_segformer))
    ids, names = masker.labels(rgb)
    assert ids.shape == (96, 160)
    assert names[3] == "windowpane, window"
    assert masker.mask(rgb).binary.shape == (96, 160)


def test_engine_uses_the_configured_segmentation_model(
    tiny_sd15: Path, tiny_segformer: Path, room_png: bytes
) -> None:
    engine = StagingEngine(engine_settings(tiny_sd15, segmentation_model=str(tiny_segformer)))
    result = engine.stage(room_png, StageParams("bedroom", "modern", seed=1))
    assert result.params["mask_source"] == "segmentation"


def test_depth_model_adds_a_depth_map(tiny_dpt: Path) -> None:
    rgb = np.random.default_rng(1).integers(0, 256, (80, 120, 3), np.uint8)
    structure = build_structure(rgb, DepthEstimator(str(tiny_dpt)))
    assert structure.depth is not None
    assert structure.depth.shape == (80, 120)
    assert structure.control_image("depth").shape == (80, 120, 3)
    assert np.array_equal(structure.control_image("depth")[..., 0], structure.depth)


def test_missing_optional_model_is_model_not_found(tmp_path: Path) -> None:
    rgb = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(ModelNotFound, match="segmentation model"):
        SegmentationMasker(str(tmp_path / "absent")).mask(rgb)
    with pytest.raises(ModelNotFound, match="depth model"):
        DepthEstimator(str(tmp_path / "absent")).estimate(rgb)
