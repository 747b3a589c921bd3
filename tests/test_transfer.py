"""The fine-tuning strategies of notebook 07 (course_lib.transfer) and the benchmark built on them."""

import importlib.util
import math
from pathlib import Path

import pytest
import torch

from course_lib.data import transfer_target
from course_lib.models import BACKBONE_PT, CNN, backbone_info
from course_lib.transfer import (
    BLOCKS,
    STRATEGIES,
    FineTuneResult,
    build_strategy,
    compare_strategies,
    fine_tune,
    run_strategy,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def small_target():
    return transfer_target(50, seed=0)


def _backbone_state():
    return torch.load(BACKBONE_PT, map_location="cpu", weights_only=True)


def _total(model):
    return sum(p.numel() for p in model.parameters())


def test_every_strategy_but_scratch_loads_the_shipped_backbone_with_the_same_seeded_head():
    shipped = _backbone_state()
    heads = []
    for name in STRATEGIES:
        model = build_strategy(name, seed=3).model
        features = model.features.state_dict()
        same = all(torch.equal(features[k], shipped[k]) for k in shipped)
        assert same is (name != "scratch"), name
        heads.append(model.classifier.linear.weight.detach().clone())
    assert all(torch.equal(h, heads[0]) for h in heads)  # the head depends on the seed only
    other = build_strategy("uniform", seed=4).model.classifier.linear.weight
    assert not torch.equal(other, heads[0])


def test_groups_and_trainable_parameters_of_each_strategy():
    info = backbone_info()
    total = _total(CNN(**info["model"]))
    head = build_strategy("feature_extraction").model.classifier
    n_head = sum(p.numel() for p in head.parameters())
    expected = {
        "scratch": ([("all", 1e-2)], total),
        "feature_extraction": ([("head", 1e-2)], n_head),
        "uniform": ([("all", 1e-2)], total),
        "uniform_low": ([("all", 1e-3)], total),
        "differential": ([("backbone", 1e-3), ("head", 1e-2)], total),
        "gradual": ([("backbone", 1e-3), ("head", 1e-2)], n_head),
        "gradual_slow": ([("backbone", 1e-3), ("head", 1e-2)], n_head),
    }
    for name, (groups, trainable) in expected.items():
        s = build_strategy(name, seed=0, lr=1e-2)
        got = [(g["name"], g["lr"]) for g in s.groups]
        assert [n for n, _ in got] == [n for n, _ in groups], name
        assert all(math.isclose(a, b) for (_, a), (_, b) in zip(got, groups)), name
        assert s.trainable() == trainable, name
        grouped = {id(p) for g in s.groups for p in g["params"]}
        assert grouped == {id(p) for p in s.model.parameters() if p.requires_grad} or name in (
            "gradual",
            "gradual_slow",
        )


def test_backbone_lr_overrides_the_default_factor():
    s = build_strategy("differential", lr=0.05, backbone_lr=0.02)
    assert [g["lr"] for g in s.groups] == [0.02, 0.05]


def test_gradual_unfreezing_releases_one_block_per_epoch_from_the_top():
    s = build_strategy("gradual")
    released = []
    for epoch in range(len(BLOCKS) + 1):
        s.on_epoch_start(epoch)
        released.append(
            [
                b
                for b in BLOCKS
                if all(p.requires_grad for p in s.model.get_submodule(b).parameters())
            ]
        )
    assert released[0] == ["classifier"]
    assert released[1] == ["features.block3", "classifier"]
    assert released[3] == list(BLOCKS) == released[4]
    slow = build_strategy("gradual_slow", epochs=8)  # one block every 8 // 4 = 2 epochs
    counts = []
    for epoch in range(4):
        slow.on_epoch_start(epoch)
        counts.append(slow.trainable())
    assert counts[0] == counts[1] < counts[2] == counts[3]


def test_feature_extraction_leaves_the_backbone_bit_for_bit_unchanged(small_target):
    s = build_strategy("feature_extraction", seed=0)
    before = {k: v.clone() for k, v in s.model.state_dict().items()}
    r = fine_tune(s, small_target, seed=0, epochs=2)
    after = s.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("features"))
    assert not torch.equal(before["classifier.linear.weight"], after["classifier.linear.weight"])
    assert isinstance(r, FineTuneResult) and len(r.train_loss) == 2 and not r.diverged


def test_differential_moves_the_backbone_less_than_uniform(small_target):
    moved = {}
    for name in ("uniform", "differential"):
        s = build_strategy(name, seed=0)
        before = [p.detach().clone() for p in s.model.features.parameters()]
        fine_tune(s, small_target, seed=0, epochs=2)
        moved[name] = sum(
            (p.detach() - b).norm().item() for p, b in zip(s.model.features.parameters(), before)
        )
    assert 0 < moved["differential"] < 0.5 * moved["uniform"]


def test_track_test_records_one_accuracy_per_epoch_plus_the_final_one(small_target):
    r = fine_tune(build_strategy("uniform"), small_target, epochs=3, track_test=True)
    assert len(r.test_acc_per_epoch) == 4
    assert r.test_acc_per_epoch[-1] == r.test_acc
    assert all(0.0 <= a <= 1.0 for a in r.test_acc_per_epoch)


def test_run_strategy_is_deterministic_and_returns_float_metrics():
    a = run_strategy("differential", seed=1, n_train=50, epochs=2)
    b = run_strategy("differential", seed=1, n_train=50, epochs=2)
    assert sorted(a) == ["cpu_s", "diverged", "test_acc", "train_loss"]
    assert all(isinstance(v, float) for v in a.values())
    assert a["test_acc"] == b["test_acc"] and a["train_loss"] == b["train_loss"]
    assert a["diverged"] == 0.0


def test_pretrained_features_beat_training_from_scratch_on_the_target_task():
    scratch = run_strategy("scratch", seed=0, epochs=3)["test_acc"]
    frozen = run_strategy("feature_extraction", seed=0, epochs=3)["test_acc"]
    assert frozen > scratch + 0.2


def test_compare_strategies_runs_every_strategy_with_every_seed():
    table = compare_strategies(
        ["scratch", "feature_extraction"], seeds=[0, 1], n_train=30, epochs=1
    )
    assert table.configs == ["scratch", "feature_extraction"]
    assert table.seeds == [0, 1]
    assert len(table.values("scratch", "test_acc")) == 2
    assert table.summary(["test_acc"]).best("test_acc") in table.configs


@pytest.mark.parametrize(
    ("call", "error", "text"),
    [
        (lambda: build_strategy("finetune"), ValueError, "name"),
        (lambda: build_strategy("uniform", lr=0.0), ValueError, "lr must be"),
        (lambda: build_strategy("uniform", backbone_lr=-1e-3), ValueError, "backbone_lr"),
        (lambda: build_strategy("uniform", seed=-1), ValueError, "seed"),
        (lambda: build_strategy("uniform", epochs=0), ValueError, "epochs"),
        (lambda: run_strategy("nope"), ValueError, "name"),
        (lambda: fine_tune("uniform", None), TypeError, "strategy must be a Strategy"),
        (lambda: compare_strategies([]), ValueError, "names"),
        (lambda: compare_strategies(["uniform", "x"]), ValueError, "names[1]"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, error, text):
    with pytest.raises(error, match=text.replace("[", r"\[").replace("]", r"\]")):
        call()


def test_bench_transfer_uses_the_strategies_of_course_lib_transfer():
    spec = importlib.util.spec_from_file_location(
        "bench_transfer", ROOT / "benchmarks" / "bench_transfer.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.run_strategy is run_strategy and tuple(bench.METHODS) == STRATEGIES
    got = bench.run_method("uniform", 0, n_train=30, epochs=1)
    assert got["test_acc"] == run_strategy("uniform", 0, n_train=30, epochs=1)["test_acc"]
