"""course_lib.compare: multi-seed tables, summaries, learning-rate sweeps, the training helper."""

from __future__ import annotations

import functools
import math
import pickle

import numpy as np
import pytest
import torch

from course_lib import compare
from course_lib.data import Split
from course_lib.optim import SGD, Adam


def _linear_run(offset, seed):
    return {"acc": offset + 0.01 * seed, "loss": 1.0 - offset}


def _quadratic_in_lr(lr, seed, *, best=0.01):
    return {
        "val_acc": 1.0 - (math.log10(lr) - math.log10(best)) ** 2 + 1e-3 * seed,
        "test_acc": 0.5,
    }


@pytest.fixture
def table():
    configs = {
        "a": functools.partial(_linear_run, 0.5),
        "b": functools.partial(_linear_run, 0.7),
    }
    return compare.run_grid(configs, seeds=[0, 1, 2])


def test_run_grid_one_row_per_config_and_seed(table):
    assert len(table) == 6
    assert table.configs == ["a", "b"]
    assert table.seeds == [0, 1, 2]
    assert table.metrics == ["acc", "loss"]
    np.testing.assert_allclose(table.values("b", "acc"), [0.7, 0.71, 0.72])


def test_summary_matches_numpy(table):
    s = table.summary()
    x = np.array([0.5, 0.51, 0.52])
    stats = s.get("a", "acc")
    assert stats["n"] == 3
    assert stats["mean"] == pytest.approx(x.mean())
    assert stats["std"] == pytest.approx(x.std(ddof=1))
    assert (stats["min"], stats["max"]) == (pytest.approx(0.5), pytest.approx(0.52))
    assert s.best("acc") == "b"
    assert s.best("loss", mode="min") == "b"
    assert s.ranking("acc", mode="min") == ["a", "b"]


def test_summary_std_is_nan_for_a_single_seed():
    t = compare.run_grid({"a": functools.partial(_linear_run, 0.5)}, seeds=[3])
    assert math.isnan(t.summary().std("a", "acc"))
    assert t.summary().cell("a", "acc") == "0.530"


def test_nan_metric_is_not_averaged_away_and_ranks_last():
    def run(seed, bad):
        return {"acc": math.nan if bad and seed == 1 else 0.9}

    t = compare.run_grid(
        {"ok": functools.partial(run, bad=False), "diverges": functools.partial(run, bad=True)},
        [0, 1],
    )
    s = t.summary()
    assert math.isnan(s.mean("diverges", "acc"))
    assert s.best("acc") == "ok"
    assert s.ranking("acc")[-1] == "diverges"


def test_text_and_html_show_mean_spread_and_range(table):
    text = table.summary().to_text(["acc"])
    assert "config (n=3; mean ± std [min, max])" in text
    assert "0.510 ± 0.010 [0.500, 0.520]" in text
    html = table.summary()._repr_html_()
    assert html.startswith("<table>") and "0.710 ± 0.010" in html
    assert "<td>a</td>" in table._repr_html_()
    assert "seed" in str(table)


def test_table_select_concat_and_from_rows_roundtrip(table):
    a = table.select(configs=["a"])
    b = table.select(configs=["b"], seeds=[0])
    both = a + b
    assert both.configs == ["a", "b"] and len(both) == 4
    again = compare.Table.from_rows(table.rows)
    assert again == table


def test_table_and_summary_pickle(table):
    assert pickle.loads(pickle.dumps(table)) == table
    s = table.summary()
    assert pickle.loads(pickle.dumps(s)).mean("a", "acc") == s.mean("a", "acc")


@pytest.mark.parametrize(
    ("configs", "seeds", "error", "match"),
    [
        ({}, [0], TypeError, "configs must be a non-empty dict"),
        ({"a": 3}, [0], TypeError, r"configs\['a'\] must be callable"),
        ({"a": functools.partial(_linear_run, 0.5)}, [], ValueError, "at least one seed"),
        ({"a": functools.partial(_linear_run, 0.5)}, [0, 0], ValueError, "distinct"),
        ({"a": functools.partial(_linear_run, 0.5)}, [-1], ValueError, r"seeds\[0\] must be"),
        ({"a": functools.partial(_linear_run, 0.5)}, 3, TypeError, "seeds must be an iterable"),
    ],
)
def test_run_grid_rejects_bad_input(configs, seeds, error, match):
    with pytest.raises(error, match=match):
        compare.run_grid(configs, seeds)


def test_run_grid_rejects_non_numeric_metrics():
    with pytest.raises(TypeError, match="metric 'acc' of configuration 'a'"):
        compare.run_grid({"a": lambda s: {"acc": "high"}}, [0])
    with pytest.raises(TypeError, match="must return a dict"):
        compare.run_grid({"a": lambda s: 0.5}, [0])
    with pytest.raises(ValueError, match="reserved"):
        compare.run_grid({"a": lambda s: {"seed": 1.0}}, [0])


def test_best_lr_finds_the_interior_optimum():
    s = compare.best_lr(_quadratic_in_lr, [1e-3, 1e-2, 1e-1], seeds=[0, 1])
    assert s.best == 1e-2
    assert not s.at_edge
    assert s.scores[1] > s.scores[0] and s.scores[1] > s.scores[2]
    assert s.table.configs == ["lr=0.001", "lr=0.01", "lr=0.1"]
    assert "<- best" in str(s)


def test_best_lr_reports_an_optimum_at_the_edge():
    run = functools.partial(_quadratic_in_lr, best=1.0)
    s = compare.best_lr(run, [1e-3, 1e-2, 1e-1], seeds=[0])
    assert s.best == 1e-1 and s.at_edge


def test_best_lr_never_picks_a_diverged_rate():
    def run(lr, seed):
        return {"val_loss": math.nan if lr > 0.5 else 1.0 - lr}

    s = compare.best_lr(run, [0.1, 0.3, 1.0], [0], metric="val_loss", mode="min")
    assert s.best == 0.3


def test_best_lr_rejects_bad_input():
    with pytest.raises(ValueError, match=r"lrs\[0\] must be a finite number > 0"):
        compare.best_lr(_quadratic_in_lr, [0.0, 0.1], [0])
    with pytest.raises(ValueError, match="distinct"):
        compare.best_lr(_quadratic_in_lr, [0.1, 0.1], [0])
    with pytest.raises(ValueError, match="mode must be one of"):
        compare.best_lr(_quadratic_in_lr, [0.1], [0], mode="best")
    with pytest.raises(ValueError, match="metric must be one of"):
        compare.best_lr(_quadratic_in_lr, [0.1], [0], metric="nope")


def test_sweep_over_any_hyperparameter():
    s = compare.sweep(
        lambda wd, seed: {"val_loss": (wd - 0.1) ** 2}, [0.0, 0.1, 1.0], [0],
        metric="val_loss", mode="min", name="weight_decay",
    )  # fmt: skip
    assert s.best == 0.1
    assert s.table.configs[0] == "weight_decay=0"


def test_tune_and_compare_reuses_tuning_runs_for_shared_seeds():
    calls = []

    def run(lr, seed, shift):
        calls.append((shift, lr, seed))
        return _quadratic_in_lr(lr, seed, best=0.01 * shift)

    runs = {"x": functools.partial(run, shift=1), "y": functools.partial(run, shift=10)}
    grids = {"x": [1e-3, 1e-2, 1e-1], "y": [1e-2, 1e-1, 1.0]}
    c = compare.tune_and_compare(runs, grids, tune_seeds=[0, 1], eval_seeds=[0, 1, 2])
    assert c.best == {"x": 1e-2, "y": 1e-1}
    assert c.edges() == []
    # 3 rates x 2 seeds of tuning + one new seed per method; seeds 0 and 1 are reused.
    assert len(calls) == 2 * (3 * 2 + 1)
    assert c.table.configs == ["x", "y"] and c.table.seeds == [0, 1, 2]
    np.testing.assert_allclose(c.table.values("y", "lr"), [0.1, 0.1, 0.1])
    assert "0.01: 1.0005*" in c.tuning_text()


def test_tune_and_compare_requires_an_equal_budget():
    runs = {"x": _quadratic_in_lr, "y": _quadratic_in_lr}
    with pytest.raises(ValueError, match="same number of candidates"):
        compare.tune_and_compare(
            runs, {"x": [0.1, 1.0], "y": [0.1]}, tune_seeds=[0], eval_seeds=[0]
        )
    c = compare.tune_and_compare(
        runs, {"x": [0.1, 1.0], "y": [0.1]}, tune_seeds=[0], eval_seeds=[0], equal_budget=False
    )
    assert c.best["y"] == 0.1
    with pytest.raises(ValueError, match="same keys"):
        compare.tune_and_compare(runs, {"x": [0.1]}, tune_seeds=[0], eval_seeds=[0])


def test_holdout_splits_training_data_without_overlap():
    x = torch.arange(100, dtype=torch.float32).reshape(50, 2)
    y = torch.arange(50) % 5
    split = Split(x, y, x[:5], y[:5])
    fit, (xv, yv) = compare.holdout(split, fraction=0.2, seed=3)
    assert len(fit.y_train) == 40 and len(yv) == 10
    seen = torch.cat([fit.x_train[:, 0], xv[:, 0]]).sort().values
    assert torch.equal(seen, x[:, 0])
    assert torch.equal(fit.x_test, split.x_test)
    _, (xv2, _) = compare.holdout(split, fraction=0.2, seed=3)
    assert torch.equal(xv, xv2)
    with pytest.raises(ValueError, match=r"fraction must be a finite number in \(0, 1\)"):
        compare.holdout(split, fraction=1.0)


def _toy_split(n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    xt = torch.randn(100, 6, generator=g)
    yt = (xt[:, 0] + 0.5 * xt[:, 1] > 0).long()
    return Split(x, y, xt, yt)


def _toy_model():
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))


def test_train_classifier_learns_and_is_deterministic():
    split = _toy_split()
    fit, val = compare.holdout(split, 0.25, 0)
    make_opt = functools.partial(Adam, lr=0.01)
    state = torch.get_rng_state()
    m1 = compare.train_classifier(_toy_model, make_opt, fit, epochs=5, batch_size=32, val=val)
    assert torch.equal(state, torch.get_rng_state()), "the caller's global RNG must be untouched"
    m2 = compare.train_classifier(_toy_model, make_opt, fit, epochs=5, batch_size=32, val=val)
    assert m1 == m2
    assert m1["test_acc"] > 0.85 and m1["val_acc"] > 0.85
    assert m1["diverged"] == 0.0
    assert m1["gap"] == pytest.approx(m1["train_acc"] - m1["test_acc"])
    m3 = compare.train_classifier(_toy_model, make_opt, fit, epochs=5, batch_size=32, seed=1)
    assert m3["train_loss"] != m1["train_loss"]
    assert "val_acc" not in m3


def test_train_classifier_reports_divergence_without_raising():
    m = compare.train_classifier(
        _toy_model, functools.partial(SGD, lr=1e6), _toy_split(), epochs=3, batch_size=16
    )
    assert m["diverged"] == 1.0
    assert math.isnan(m["train_loss"]) and math.isnan(m["test_loss"])


def test_train_classifier_penalty_shrinks_weights():
    def l1(lam, model):
        return lam * sum(p.abs().sum() for p in model.parameters())

    def weight_norm(penalty):
        norms = []

        def make_opt(params):
            params = list(params)
            norms.append(params)
            return Adam(params, lr=0.01)

        compare.train_classifier(
            _toy_model, make_opt, _toy_split(), epochs=5, batch_size=32, penalty=penalty
        )
        return sum(p.abs().sum().item() for p in norms[0])

    assert weight_norm(functools.partial(l1, 0.01)) < 0.7 * weight_norm(None)


def test_train_classifier_rejects_bad_input():
    with pytest.raises(ValueError, match="epochs must be an integer >= 1, got 0"):
        compare.train_classifier(_toy_model, Adam, _toy_split(), epochs=0)
    with pytest.raises(TypeError, match="must be callable"):
        compare.train_classifier(_toy_model, None, _toy_split(), epochs=1)


def test_train_classifier_measure_adds_metrics_of_the_trained_model():
    seen = []

    def first_weight_norm(model):
        seen.append((model, model.training, torch.is_grad_enabled()))
        return {"w0_norm": model[0].weight.norm().item()}

    m = compare.train_classifier(
        _toy_model,
        functools.partial(Adam, lr=0.01),
        _toy_split(),
        epochs=1,
        measure=first_weight_norm,
    )
    assert len(seen) == 1
    model, training, grad_enabled = seen[0]
    assert not training and not grad_enabled  # measured in eval mode, without gradients
    assert m["w0_norm"] == model[0].weight.norm().item()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # the seed train_classifier built the model under
        initial = _toy_model()
    assert not torch.equal(model[0].weight, initial[0].weight)  # the trained model, not the initial
    with pytest.raises(ValueError, match="built-in metric names"):
        compare.train_classifier(
            _toy_model, Adam, _toy_split(), epochs=1, measure=lambda model: {"gap": 1.0}
        )


# --- paired statistics ------------------------------------------------------------------------------


def _paired_table(a, b, names=("a", "b"), metric="acc"):
    rows = [{"config": names[0], "seed": s, metric: v} for s, v in enumerate(a)]
    rows += [{"config": names[1], "seed": s, metric: v} for s, v in enumerate(b)]
    return compare.Table.from_rows(rows)


def test_paired_difference_matches_the_t_interval_by_hand():
    from scipy import stats

    a = np.array([0.71, 0.745, 0.708, 0.73, 0.72])
    b = np.array([0.69, 0.72, 0.69, 0.70, 0.71])
    d = compare.paired_difference(a, b)
    diff = a - b
    half = stats.t.ppf(0.975, 4) * diff.std(ddof=1) / np.sqrt(5)
    assert d.mean == pytest.approx(diff.mean())
    assert (d.low, d.high) == (pytest.approx(diff.mean() - half), pytest.approx(diff.mean() + half))
    assert d.n == 5 and d.level == 0.95


def test_pairing_removes_the_shared_seed_noise():
    # Both methods share a large per-seed offset; b is always 0.01 lower. Unpaired error bars
    # overlap completely, the paired interval is tight around 0.01.
    rng = np.random.default_rng(0)
    shared = rng.normal(0.0, 0.05, size=5)
    a = 0.7 + shared + rng.normal(0, 0.001, 5)
    b = a - 0.01 + rng.normal(0, 0.001, 5)
    assert a.std(ddof=1) > 2 * 0.01  # the separate spreads hide the effect
    d = compare.assert_better(_paired_table(a, b), "a", "b", "acc")
    assert 0.007 < d.low < d.mean < d.high < 0.013


def test_assert_better_on_separated_data_and_its_message_on_noise():
    t = _paired_table([0.80, 0.83, 0.79, 0.81, 0.82], [0.70, 0.74, 0.70, 0.72, 0.71])
    d = compare.assert_better(t, "a", "b", "acc")
    assert d.excludes_zero() and d.verdict() == "a better than b"
    with pytest.raises(AssertionError, match=r"b is not shown better than a .*a better than b"):
        compare.assert_better(t, "b", "a", "acc")
    noisy = _paired_table([0.70, 0.75, 0.68, 0.74, 0.71], [0.72, 0.70, 0.73, 0.69, 0.72])
    with pytest.raises(AssertionError, match="not distinguishable with 5 seeds"):
        compare.assert_better(noisy, "a", "b", "acc")


def test_assert_better_mode_min_is_for_losses():
    t = _paired_table([0.30, 0.32, 0.31], [0.40, 0.43, 0.41], metric="loss")
    compare.assert_better(t, "a", "b", "loss", mode="min")
    with pytest.raises(AssertionError):
        compare.assert_better(t, "a", "b", "loss", mode="max")


def test_assert_tie_needs_a_narrow_interval_not_just_overlap():
    tied = _paired_table([0.700, 0.720, 0.710, 0.705, 0.715], [0.701, 0.719, 0.712, 0.704, 0.714])
    d = compare.assert_tie(tied, "a", "b", "acc", margin=0.01)
    assert d.verdict(margin=0.01) == "a and b tie within ±0.01"
    # The same mean difference (about 0) but a wide interval: not a tie, only "not distinguishable".
    wide = _paired_table([0.70, 0.76, 0.66, 0.74, 0.69], [0.72, 0.70, 0.73, 0.69, 0.71])
    with pytest.raises(AssertionError, match=r"not shown to tie within ±0\.01"):
        compare.assert_tie(wide, "a", "b", "acc", margin=0.01)
    assert "not distinguishable" in compare.difference(wide, "a", "b", "acc").verdict(margin=0.01)


def test_rank_separates_only_where_the_neighbours_intervals_exclude_zero():
    rows = []
    base = [0.0, 0.02, -0.01, 0.01, 0.0]
    for name, offset, noise in (("top", 0.80, 0.0), ("mid1", 0.70, 0.003), ("mid2", 0.699, -0.003)):
        rows += [
            {"config": name, "seed": s, "acc": offset + b + noise * (-1) ** s}
            for s, b in enumerate(base)
        ]
    r = compare.rank(compare.Table.from_rows(rows), "acc")
    assert r.order[0] == "top"
    assert r.separated == (True, False)
    assert not r.strict
    assert r.groups() == [["top"], sorted(["mid1", "mid2"], key=r.order.index)]
    text = str(r)
    assert "separated" in text and "not distinguishable" in text and "n=5" in text


def test_difference_refuses_unpaired_seeds_and_bad_input():
    rows = [{"config": "a", "seed": s, "acc": 0.5} for s in (0, 1, 2)]
    rows += [{"config": "b", "seed": s, "acc": 0.5} for s in (0, 1, 3)]
    with pytest.raises(ValueError, match=r"must share their seeds.*\[0, 1, 2\] and \[0, 1, 3\]"):
        compare.difference(compare.Table.from_rows(rows), "a", "b", "acc")
    with pytest.raises(ValueError, match="at least 2 seeds"):
        compare.paired_difference([0.5], [0.4])
    with pytest.raises(ValueError, match="same length"):
        compare.paired_difference([0.5, 0.6], [0.4])
    with pytest.raises(ValueError, match="finite"):
        compare.paired_difference([0.5, math.nan], [0.4, 0.4])
    with pytest.raises(ValueError, match=r"level must be a finite number in \(0, 1\)"):
        compare.paired_difference([0.5, 0.6], [0.4, 0.5], level=1.0)
    with pytest.raises(ValueError, match="margin must be"):
        compare.assert_tie(_paired_table([0.5, 0.6], [0.5, 0.6]), "a", "b", "acc", margin=0)
