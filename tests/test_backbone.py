"""The shipped pretrained backbone: present, small, checksummed, loadable, and actually pretrained."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from torch import nn

from course_lib.data import TRANSFER_SOURCE_ARGS, transfer_source
from course_lib.models import (
    BACKBONE_JSON,
    BACKBONE_PT,
    CNN,
    BackboneError,
    backbone_info,
    load_backbone,
    pretrained_cnn,
    sha256_of,
)
from course_lib.pretrain import evaluate, save_backbone


def test_shipped_backbone_is_small_and_its_metadata_matches():
    assert BACKBONE_PT.is_file() and BACKBONE_JSON.is_file()
    assert BACKBONE_PT.stat().st_size < 1_000_000
    info = backbone_info()
    assert info["sha256"] == sha256_of(BACKBONE_PT)
    assert info["bytes"] == BACKBONE_PT.stat().st_size
    assert info["source_args"] == TRANSFER_SOURCE_ARGS
    assert info["source_test_acc"] >= 0.9
    assert info["training"]["seed"] == 0 and "torch_version" in info
    assert info["command"] == "python -m course_lib.pretrain"


def test_backbone_file_holds_only_the_features_tensors():
    state = torch.load(BACKBONE_PT, map_location="cpu", weights_only=True)
    model = CNN(**backbone_info()["model"])
    assert set(state) == set(model.features.state_dict())
    assert all(isinstance(v, torch.Tensor) for v in state.values())


def test_load_backbone_copies_the_weights_and_keeps_the_head():
    model = CNN(seed=3, **backbone_info()["model"])
    head = model.classifier.linear.weight.clone()
    out = load_backbone(model)
    assert out is model
    state = torch.load(BACKBONE_PT, map_location="cpu", weights_only=True)
    for name, tensor in model.features.state_dict().items():
        assert torch.equal(tensor, state[name])
    assert torch.equal(model.classifier.linear.weight, head)
    assert all(p.requires_grad for p in model.parameters())


def test_pretrained_cnn_freeze_and_seeded_head():
    torch.manual_seed(0)
    rng = torch.get_rng_state()
    frozen = pretrained_cnn(freeze=True, seed=1)
    assert torch.equal(torch.get_rng_state(), rng)
    assert not any(p.requires_grad for p in frozen.features.parameters())
    assert all(p.requires_grad for p in frozen.classifier.parameters())
    again = pretrained_cnn(seed=1)
    assert torch.equal(again.classifier.linear.weight, frozen.classifier.linear.weight)
    other = pretrained_cnn(num_classes=4, seed=2)
    assert other.classifier.linear.out_features == 4


def test_corrupted_copy_gives_a_checksum_error(tmp_path):
    pt = tmp_path / "backbone_cnn.pt"
    shutil.copy(BACKBONE_PT, pt)
    shutil.copy(BACKBONE_JSON, tmp_path / "backbone_cnn.json")
    load_backbone(CNN(**backbone_info(pt)["model"]), pt)  # the intact copy loads
    raw = bytearray(pt.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    pt.write_bytes(bytes(raw))
    with pytest.raises(
        BackboneError, match=r"checksum mismatch .*`python -m course_lib\.pretrain`"
    ):
        load_backbone(CNN(**backbone_info(pt)["model"]), pt)


def test_missing_files_give_a_clear_error(tmp_path):
    with pytest.raises(BackboneError, match="is missing; recreate it with `python -m course_lib"):
        load_backbone(CNN(), tmp_path / "nothing.pt")
    shutil.copy(BACKBONE_PT, tmp_path / "lonely.pt")
    with pytest.raises(BackboneError, match=r"metadata .*lonely\.json is missing"):
        load_backbone(CNN(), tmp_path / "lonely.pt")


def test_a_model_of_another_shape_is_refused():
    with pytest.raises(BackboneError, match="does not fit this model"):
        load_backbone(CNN(channels=(25, 25, 25)))
    with pytest.raises(TypeError, match=r"model must be an nn\.Module with a `features` part"):
        load_backbone(nn.Linear(40, 10))


def test_save_and_load_round_trip(tmp_path):
    model = CNN(channels=(4, 4, 4), seed=0)
    info = save_backbone(model, {"model": {"channels": [4, 4, 4]}}, tmp_path / "tiny.pt")
    assert info["sha256"] == sha256_of(tmp_path / "tiny.pt")
    assert json.loads((tmp_path / "tiny.json").read_text())["sha256"] == info["sha256"]
    fresh = load_backbone(CNN(channels=(4, 4, 4), seed=1), tmp_path / "tiny.pt")
    for a, b in zip(fresh.features.parameters(), model.features.parameters()):
        assert torch.equal(a, b)


def _fit_head(model: CNN, x: torch.Tensor, y: torch.Tensor, steps: int = 150) -> CNN:
    """Feature extraction: train only the linear head, full batch, Adam."""
    with torch.no_grad():
        h = model.features(x.unsqueeze(1))
    opt = torch.optim.Adam(model.classifier.parameters(), lr=1e-2)
    for _ in range(steps):
        loss = nn.functional.cross_entropy(model.classifier(h), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def test_pretrained_features_beat_random_features_on_the_source_task():
    # A small fresh draw of the source distribution (another seed: none of these examples were
    # seen in pretraining). 480 examples train a linear head, 120 test it.
    draw = transfer_source(num_samples=600, seed=TRANSFER_SOURCE_ARGS["seed"] + 1)
    x, y, xt, yt = draw.x_train, draw.y_train, draw.x_test, draw.y_test
    pretrained = _fit_head(pretrained_cnn(freeze=True, seed=0), x, y)
    random = _fit_head(CNN(seed=0, **backbone_info()["model"]), x, y)
    acc_pre, acc_rand = evaluate(pretrained, xt, yt), evaluate(random, xt, yt)
    assert acc_pre > 0.8  # chance is 0.1
    assert acc_pre > acc_rand + 0.15
