"""The 2-D backbone pretrained on the MNIST digits: shipped small, checksummed, loadable, reproducible."""

from __future__ import annotations

import json

import pytest
import torch

from course_lib.models import (
    BACKBONE2D_JSON,
    BACKBONE2D_PT,
    BACKBONE_PT,
    BackboneError,
    CNN2d,
    backbone_info,
    load_backbone,
    pretrained_cnn2d,
    sha256_of,
)
from course_lib.pretrain import BACKBONES, PORTABLE_KERNELS, PRETRAIN2D, main


def test_pretrain_check_retrains_the_2d_backbone_to_its_shipped_sha256(capfd):
    # the command re-executes itself under portable kernels, so this holds on any x86 CPU
    assert main(["--backbone", "mnist", "--check"]) == 0
    out = capfd.readouterr().out
    assert f"retrained sha256 {backbone_info(BACKBONE2D_PT)['sha256']}" in out
    assert "OK: identical" in out


def test_shipped_2d_backbone_is_small_and_its_metadata_says_how_it_was_made():
    assert BACKBONE2D_PT.stat().st_size < 1_000_000
    info = json.loads(BACKBONE2D_JSON.read_text())
    assert (
        info["sha256"] == sha256_of(BACKBONE2D_PT) and info["bytes"] == BACKBONE2D_PT.stat().st_size
    )
    assert info["architecture"] == "cnn2d"
    assert info["command"] == "python -m course_lib.pretrain --backbone mnist"
    assert info["model"] == {
        "in_size": PRETRAIN2D["in_size"],
        "channels": list(PRETRAIN2D["channels"]),
        "kernel_size": PRETRAIN2D["kernel_size"],
    }
    assert info["source_args"]["size"] == PRETRAIN2D["in_size"]
    assert info["training"]["epochs"] == PRETRAIN2D["epochs"] and info["training"]["seed"] == 0
    assert info["kernels"] == PORTABLE_KERNELS
    assert info["source_test_acc"] >= 0.95 and "torch_version" in info


def test_pretrained_cnn2d_loads_the_shipped_features_and_a_seeded_fresh_head():
    state = torch.load(BACKBONE2D_PT, map_location="cpu", weights_only=True)
    model = pretrained_cnn2d(seed=1, freeze=True)
    assert isinstance(model, CNN2d) and model.in_size == 16
    for name, tensor in model.features.state_dict().items():
        assert torch.equal(tensor, state[name])
    assert not any(p.requires_grad for p in model.features.parameters())
    fresh = CNN2d(**backbone_info(BACKBONE2D_PT)["model"], seed=1)
    assert torch.equal(model.classifier.linear.weight, fresh.classifier.linear.weight)
    assert model(torch.zeros(2, 1, 16, 16)).shape == (2, 10)


def test_the_2d_backbone_is_refused_by_a_model_of_another_shape_naming_cnn2d():
    with pytest.raises(BackboneError, match=r"CNN2d\(\*\*backbone_info\(\)\['model'\]\)"):
        load_backbone(CNN2d(16, channels=(8, 16)), BACKBONE2D_PT)


def test_a_corrupted_2d_copy_names_the_command_that_rebuilds_it(tmp_path):
    pt = tmp_path / BACKBONE2D_PT.name
    raw = bytearray(BACKBONE2D_PT.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    pt.write_bytes(bytes(raw))
    pt.with_suffix(".json").write_text(BACKBONE2D_JSON.read_text())
    with pytest.raises(BackboneError, match=r"`python -m course_lib\.pretrain --backbone mnist`"):
        pretrained_cnn2d(path=pt)


def test_cli_offers_both_backbones_and_keeps_mnist1d_the_default(capsys):
    assert BACKBONES == ("mnist1d", "mnist")
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--backbone {mnist1d,mnist}" in text and "mnist1d: the 1-D CNN" in text
    assert BACKBONE_PT.name == "backbone_cnn.pt"  # the default output stays the 1-D file
