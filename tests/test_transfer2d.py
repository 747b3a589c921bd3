"""Transfer across datasets: the strategies on the 2-D backbone and scikit-learn's digits."""

from __future__ import annotations

import functools
import math

import pytest
import torch
from scipy import stats

from course_lib.models import BACKBONE2D_PT, CNN, CNN2d, pretrained_cnn2d
from course_lib.transfer import (
    BLOCKS,
    blocks_of,
    build_strategy,
    digits_target,
    interval_rows,
    interval_text,
    run_strategy,
    tune_strategies,
)


def test_blocks_of_gives_blocks_for_the_1d_cnn_and_two_blocks_and_head_for_cnn2d():
    assert blocks_of(CNN(seed=0)) == BLOCKS
    assert blocks_of(CNN2d(16, channels=(16, 32))) == (
        "features.block1",
        "features.block2",
        "classifier",
    )
    with pytest.raises(TypeError, match="features"):
        blocks_of(torch.nn.Linear(2, 2))


def test_build_strategy_with_the_2d_path_loads_the_backbone_except_for_scratch():
    loaded = pretrained_cnn2d().features.state_dict()
    for name in ("feature_extraction", "differential", "scratch"):
        s = build_strategy(name, seed=0, path=BACKBONE2D_PT)
        assert isinstance(s.model, CNN2d)
        same = all(torch.equal(v, loaded[k]) for k, v in s.model.features.state_dict().items())
        assert same == (name != "scratch")


def test_gradual_on_the_2d_backbone_releases_block2_then_block1():
    s = build_strategy("gradual", seed=0, path=BACKBONE2D_PT)
    head = sum(p.numel() for p in s.model.classifier.parameters())
    counts = []
    for epoch in range(4):
        s.on_epoch_start(epoch)
        counts.append(s.trainable())
    block2 = sum(p.numel() for p in s.model.features.block2.parameters())
    total = sum(p.numel() for p in s.model.parameters())
    assert counts == [head, head + block2, total, total]


def test_digits_target_draws_per_class_labels_by_seed_and_keeps_the_test_set():
    a, b, again = digits_target(3, seed=0), digits_target(3, seed=1), digits_target(3, seed=0)
    assert a.x_train.shape == (30, 1, 16, 16) and a.x_test.shape == (450, 1, 16, 16)
    assert torch.bincount(a.y_train, minlength=10).tolist() == [3] * 10
    assert torch.equal(a.x_train, again.x_train) and torch.equal(a.y_train, again.y_train)
    assert not torch.equal(a.x_train, b.x_train)
    assert torch.equal(a.x_test, b.x_test) and torch.equal(a.y_test, b.y_test)
    assert digits_target(2, seed=0, size=8).x_train.shape == (20, 1, 8, 8)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"per_class": 0}, r"per_class .*0"),
        ({"per_class": 101}, r"per_class"),
        ({"size": 4}, "size"),
    ],
)
def test_digits_target_rejects_bad_arguments_naming_them(kwargs, match):
    with pytest.raises(ValueError, match=match):
        digits_target(**{"per_class": 2, **kwargs})


def test_run_strategy_accepts_a_data_function_of_the_seed():
    kwargs = {"epochs": 4, "max_shift": 0, "path": BACKBONE2D_PT}
    data = functools.partial(digits_target, 2)
    by_function = run_strategy("differential", 3, data=data, **kwargs)
    by_split = run_strategy("differential", 3, data=digits_target(2, seed=3), **kwargs)
    assert by_function["test_acc"] == by_split["test_acc"]
    assert by_function["train_loss"] == by_split["train_loss"]


def test_interval_rows_give_each_strategys_t_interval_and_its_paired_gain_over_scratch():
    c = tune_strategies(
        ["scratch", "feature_extraction"],
        [1e-2],
        seeds=[0, 1, 2],
        epochs=4,
        data=functools.partial(digits_target, 2),
        max_shift=0,
        path=BACKBONE2D_PT,
    )
    rows = {r["name"]: r for r in interval_rows(c)}
    x = c.table.values("feature_extraction", "test_acc")
    half = stats.t.ppf(0.975, 2) * x.std(ddof=1) / math.sqrt(3)
    fe = rows["feature_extraction"]
    assert fe["mean"] == pytest.approx(x.mean()) and fe["high"] - fe["mean"] == pytest.approx(half)
    gain = x - c.table.values("scratch", "test_acc")
    assert (
        fe["vs_baseline"].mean == pytest.approx(gain.mean())
        and rows["scratch"]["vs_baseline"] is None
    )
    text = interval_text(list(rows.values()))
    assert text.splitlines()[2].startswith("scratch") and "minus scratch" in text
    with pytest.raises(ValueError, match="baseline must be one of"):
        interval_rows(c, baseline="uniform")
