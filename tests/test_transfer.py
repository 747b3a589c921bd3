"""The fine-tuning strategies of notebook 07 (course_lib.transfer) and the benchmark built on them."""

import math

import pytest
import torch

from course_lib import optim, schedulers
from course_lib.data import transfer_target
from course_lib.models import BACKBONE_PT, CNN, backbone_info
from course_lib.pretrain import evaluate, random_roll
from course_lib.transfer import (
    BLOCKS,
    STRATEGIES,
    FineTuneResult,
    build_strategy,
    compare_strategies,
    drift,
    fine_tune,
    run_strategy,
    scan_backbone_lr,
    tune_strategies,
)


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


def test_the_optimizer_and_schedule_are_course_libs_with_each_group_peaking_at_its_rate():
    s = build_strategy("differential", lr=1e-2)
    opt = s.optimizer()
    sched = s.scheduler(opt, total_steps=10)
    assert type(opt) is optim.AdamW and type(sched) is schedulers.OneCycleLR
    assert [g["weight_decay"] for g in opt.param_groups] == [0.0, 0.0]
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([1e-3 / 25, 1e-2 / 25], rel=1e-12)
    assert [g["lr"] for g in s.groups] == [1e-3, 1e-2]  # the strategy keeps its peak rates
    peaks = []
    for _ in range(10):
        opt.step()
        sched.step()
        peaks.append([g["lr"] for g in opt.param_groups])
    assert max(p[0] for p in peaks) == pytest.approx(1e-3) and peaks[-1][0] < 1e-6
    assert all(p[1] == pytest.approx(10 * p[0], rel=1e-12) for p in peaks)


def _torch_reference(strategy, data, *, seed, epochs, batch_size=32, max_shift=10):
    """Notebook 07's old loop: torch's AdamW and OneCycleLR, the same batches and shifts."""
    groups = [dict(g) for g in strategy.groups]
    opt = torch.optim.AdamW(groups, lr=max(g["lr"] for g in groups), weight_decay=0.0)
    n = len(data.y_train)
    steps = epochs * math.ceil(n / batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=[g["lr"] for g in groups], total_steps=steps
    )
    g = torch.Generator().manual_seed(seed)
    losses = []
    for epoch in range(epochs):
        strategy.on_epoch_start(epoch)
        perm, total = torch.randperm(n, generator=g), 0.0
        for i in range(0, n, batch_size):
            idx = perm[i : i + batch_size]
            x = random_roll(data.x_train[idx], max_shift, g)
            loss = torch.nn.functional.cross_entropy(strategy.model(x), data.y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        losses.append(total / n)
    return losses, evaluate(strategy.model, data.x_test, data.y_test)


@pytest.mark.parametrize("name", ["differential", "gradual", "feature_extraction"])
def test_fine_tune_matches_torchs_adamw_and_one_cycle(small_target, name):
    ours = fine_tune(build_strategy(name, seed=1, epochs=3), small_target, seed=1, epochs=3)
    ref = build_strategy(name, seed=1, epochs=3)
    losses, acc = _torch_reference(ref, small_target, seed=1, epochs=3)
    assert ours.train_loss == pytest.approx(losses, rel=1e-6, abs=0)
    assert ours.test_acc == acc


def test_fine_tune_leaves_the_global_rng_as_it_was(small_target):
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    fine_tune(build_strategy("uniform"), small_target, epochs=2)
    assert torch.equal(torch.rand(3), expected)


def test_a_run_too_short_for_the_one_cycle_warm_up_is_refused_before_training(small_target):
    s = build_strategy("uniform")  # 50 examples: 2 batches of 32 per epoch
    before = s.model.classifier.linear.weight.detach().clone()
    with pytest.raises(ValueError, match=r"got 1 \* ceil\(50 / 32\) = 2: use more epochs"):
        fine_tune(s, small_target, epochs=1)
    assert torch.equal(s.model.classifier.linear.weight, before)
    assert len(fine_tune(s, small_target, epochs=1, batch_size=12).train_loss) == 1  # 5 steps


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
    untrained = build_strategy("uniform")
    start = evaluate(untrained.model, small_target.x_test, small_target.y_test)
    r = fine_tune(build_strategy("uniform"), small_target, epochs=3, track_test=True)
    assert len(r.test_acc_per_epoch) == 4
    assert r.test_acc_per_epoch[0] == start  # before epoch 0: the fresh head, nothing trained
    assert r.test_acc_per_epoch[-1] == r.test_acc > start + 0.03  # 3 epochs (6 steps) help
    assert r.train_loss[0] > r.train_loss[1] > r.train_loss[2]
    # measuring the test accuracy along the way changes neither the RNG nor the weights
    quiet = fine_tune(build_strategy("uniform"), small_target, epochs=3)
    assert quiet.test_acc == r.test_acc and quiet.train_loss == r.train_loss


def test_val_fraction_trains_on_the_rest_and_reports_a_validation_accuracy():
    full = run_strategy("differential", seed=2, n_train=60, epochs=2)
    tuned = run_strategy("differential", seed=2, n_train=60, epochs=2, val_fraction=0.25)
    assert "val_acc" not in full and "val_acc" in tuned
    assert tuned["val_acc"] * 15 == round(tuned["val_acc"] * 15)  # 15 of the 60 examples
    assert tuned["train_loss"] != full["train_loss"]  # it trained on the other 45 only
    again = run_strategy("differential", seed=2, n_train=60, epochs=2, val_fraction=0.25)
    assert again["val_acc"] == tuned["val_acc"] and again["test_acc"] == tuned["test_acc"]


def test_drift_is_zero_for_a_frozen_backbone_and_grows_with_the_backbone_rate():
    frozen = run_strategy("feature_extraction", seed=0, n_train=50, epochs=2)
    assert frozen["weight_drift"] == 0.0 and math.isclose(frozen["feature_cka"], 1.0)
    runs = [
        run_strategy("differential", seed=0, n_train=50, epochs=2, backbone_lr=b)
        for b in (1e-4, 1e-3, 1e-2)
    ]
    weight = [r["weight_drift"] for r in runs]
    cka = [r["feature_cka"] for r in runs]
    assert 0 < weight[0] < weight[1] < weight[2]
    assert 1 > cka[0] > cka[1] > cka[2]


def test_feature_cka_ignores_scale_and_sees_a_different_representation():
    before = build_strategy("uniform", seed=0).model.features
    scaled = build_strategy("uniform", seed=0).model.features
    last = scaled.block3.conv
    with torch.no_grad():  # the last block's weights and bias doubled: features exactly x2
        last.weight.mul_(2.0)
        last.bias.mul_(2.0)
    x = transfer_target(50, seed=0).x_test[:200]
    d = drift(before, scaled, x)
    n_last = last.weight.numel() + last.bias.numel()
    assert 0 < d["weight_drift"] < 1 and n_last < sum(p.numel() for p in scaled.parameters())
    assert math.isclose(d["feature_cka"], 1.0, rel_tol=1e-9)  # same features, twice as large
    other = build_strategy("scratch", seed=0).model.features  # random backbone
    assert drift(before, other, x)["feature_cka"] < 0.8
    with torch.no_grad():
        last.bias.fill_(-1e6)  # every ReLU of the last block dead: constant features
    assert drift(before, scaled, x)["feature_cka"] == 0.0
    same = drift(before, before, x)
    assert same["weight_drift"] == 0.0 and math.isclose(same["feature_cka"], 1.0)


def test_run_strategy_is_deterministic_and_returns_float_metrics():
    a = run_strategy("differential", seed=1, n_train=50, epochs=2)
    b = run_strategy("differential", seed=1, n_train=50, epochs=2)
    assert sorted(a) == [
        "cpu_s",
        "diverged",
        "feature_cka",
        "test_acc",
        "train_loss",
        "weight_drift",
    ]
    assert all(isinstance(v, float) for v in a.values())
    assert a["test_acc"] == b["test_acc"] and a["train_loss"] == b["train_loss"]
    assert a["diverged"] == 0.0


def test_tune_strategies_chooses_on_validation_and_reports_the_same_runs():
    grids = {"feature_extraction": [1e-3, 1e-1], "uniform": [1e-4, 1e-2]}
    c = tune_strategies(
        ["feature_extraction", "uniform"], grids, seeds=[0, 1], n_train=40, epochs=4
    )
    assert c.table.configs == ["feature_extraction", "uniform"] and c.table.seeds == [0, 1]
    for name, search in c.searches.items():
        assert search.metric == "val_acc" and list(search.values) == grids[name]
        assert c.best[name] == search.values[max(range(2), key=lambda i: search.scores[i])]
        label = f"lr={c.best[name]:g}"
        # the comparison reads the tuning runs at the chosen rate: no run is trained twice
        for metric in ("val_acc", "test_acc"):
            assert list(c.table.values(name, metric)) == list(search.table.values(label, metric))
    one = run_strategy("uniform", 1, lr=c.best["uniform"], n_train=40, epochs=4, val_fraction=0.25)
    assert c.table.values("uniform", "test_acc")[1] == one["test_acc"]


def test_scan_backbone_lr_runs_differential_at_each_backbone_rate():
    t = scan_backbone_lr([1e-3, 1.0], seeds=[0], n_train=30, epochs=4)
    assert t.configs == ["backbone_lr=0.001", "backbone_lr=1"]
    ref = run_strategy("differential", 0, backbone_lr=1.0, n_train=30, epochs=4)
    assert t.values("backbone_lr=1", "weight_drift")[0] == ref["weight_drift"]
    assert (
        t.values("backbone_lr=1", "weight_drift")[0]
        > t.values("backbone_lr=0.001", "weight_drift")[0]
    )


def test_pretrained_features_beat_training_from_scratch_on_the_target_task():
    scratch = run_strategy("scratch", seed=0, epochs=3)["test_acc"]
    frozen = run_strategy("feature_extraction", seed=0, epochs=3)["test_acc"]
    assert frozen > scratch + 0.2


def test_compare_strategies_runs_every_strategy_with_every_seed():
    table = compare_strategies(
        ["scratch", "feature_extraction"], seeds=[0, 1], n_train=30, epochs=4
    )
    assert table.configs == ["scratch", "feature_extraction"]
    assert table.seeds == [0, 1]
    for name in table.configs:  # row (name, seed) is run_strategy(name, seed), not another run
        for i, seed in enumerate(table.seeds):
            run = run_strategy(name, seed, n_train=30, epochs=4)
            assert table.values(name, "test_acc")[i] == run["test_acc"], (name, seed)
            assert table.values(name, "weight_drift")[i] == run["weight_drift"], (name, seed)
    assert table.values("feature_extraction", "weight_drift").tolist() == [0.0, 0.0]


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
        (lambda: fine_tune(build_strategy("uniform"), None, epochs=0), ValueError, "epochs"),
        (lambda: fine_tune(build_strategy("uniform"), None, batch_size=0), ValueError, "batch_"),
        (lambda: fine_tune(build_strategy("uniform"), None, max_shift=-1), ValueError, "max_s"),
        (lambda: compare_strategies([]), ValueError, "names"),
        (lambda: compare_strategies(["uniform", "x"]), ValueError, "names[1]"),
        (lambda: tune_strategies(["uniform"], {"differential": [1e-2]}, [0]), ValueError, "lrs"),
        (lambda: tune_strategies(["uniform"], [1e-2], [0], val_fraction=1.0), ValueError, "val_"),
        (lambda: scan_backbone_lr([], [0]), ValueError, "backbone_lrs"),
        (lambda: scan_backbone_lr([1e-3, -1.0], [0]), ValueError, "backbone_lrs[1]"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, error, text):
    with pytest.raises(error, match=text.replace("[", r"\[").replace("]", r"\]")):
        call()


def test_bench_transfer_uses_the_strategies_of_course_lib_transfer(load_script):
    bench = load_script("benchmarks/bench_transfer.py")
    assert bench.run_strategy is run_strategy and tuple(bench.METHODS) == STRATEGIES
    got = bench.run_method("uniform", 0, n_train=30, epochs=4)
    assert got["test_acc"] == run_strategy("uniform", 0, n_train=30, epochs=4)["test_acc"]
