"""course_lib.data: shapes, determinism, untouched global RNGs, no files written, seeded subsets."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from course_lib import data
from course_lib.data import (
    MNIST1D_DEFAULTS,
    TRANSFER_SOURCE_ARGS,
    TRANSFER_TARGET_ARGS,
    Split,
    digits,
    loaders,
    mnist1d,
    subset,
    transfer_source,
    transfer_target,
)


def test_mnist1d_standard_split_shapes_and_dtypes():
    s = mnist1d()
    assert isinstance(s, Split)
    assert tuple(s.x_train.shape) == (4000, 40)
    assert tuple(s.x_test.shape) == (1000, 40)
    assert s.x_train.dtype == torch.float32 and s.y_train.dtype == torch.int64
    assert s.num_features == 40 and s.num_classes == 10
    assert sorted(s.y_train.unique().tolist()) == list(range(10))
    # mnist1d normalises the whole data set to mean 0, std 1
    x = torch.cat([s.x_train, s.x_test])
    assert abs(float(x.mean())) < 1e-3 and abs(float(x.std()) - 1.0) < 1e-3


def test_mnist1d_is_deterministic_and_returns_fresh_copies():
    a, b = mnist1d(), mnist1d()
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    a.x_train.zero_()
    assert not torch.equal(mnist1d().x_train, a.x_train)


def test_mnist1d_leaves_global_rngs_untouched():
    # arguments never generated before in this process, so the generator really runs
    random.seed(123)
    np.random.seed(123)  # noqa: NPY002 (the legacy global state is what we protect)
    torch.manual_seed(123)
    py, npy, tor = random.getstate(), np.random.get_state(), torch.get_rng_state()  # noqa: NPY002
    mnist1d(num_samples=120, seed=987)
    subset(mnist1d(num_samples=120, seed=987), 20, seed=1)
    assert random.getstate() == py
    after = np.random.get_state()  # noqa: NPY002
    assert after[0] == npy[0] and np.array_equal(after[1], npy[1]) and after[2:] == npy[2:]
    assert torch.equal(torch.get_rng_state(), tor)


def test_no_file_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = mnist1d(num_samples=100, seed=31)
    digits()
    train, test = loaders(s, batch_size=16)
    for _ in train:
        pass
    for _ in test:
        pass
    assert list(tmp_path.iterdir()) == []


def test_variants_differ_from_the_standard_data():
    std = mnist1d(num_samples=500)
    noisy = mnist1d(num_samples=500, iid_noise_scale=0.1)
    reseeded = mnist1d(num_samples=500, seed=7)
    assert noisy.x_train.shape == std.x_train.shape
    assert not torch.allclose(noisy.x_train, std.x_train)
    assert not torch.equal(reseeded.y_train, std.y_train)


def test_mnist1d_rejects_unknown_and_bad_arguments():
    with pytest.raises(TypeError, match=r"unknown argument.*iid_noise"):
        mnist1d(iid_noise=0.1)
    with pytest.raises(ValueError, match=r"train_split must be .* got 1\.5"):
        mnist1d(train_split=1.5)
    with pytest.raises(ValueError, match="num_samples must be an integer >= 10, got 5"):
        mnist1d(num_samples=5)
    with pytest.raises(TypeError, match="seed must be an integer"):
        mnist1d(seed=1.5)


def test_digits_split_is_stratified_and_seeded():
    s = digits(test_size=0.25, seed=0)
    assert s.num_features == 64 and s.num_classes == 10
    assert len(s.y_train) + len(s.y_test) == 1797
    assert float(s.x_train.max()) <= 1.0 and float(s.x_train.min()) >= 0.0
    total = torch.bincount(torch.cat([s.y_train, s.y_test]), minlength=10).double()
    test_counts = torch.bincount(s.y_test, minlength=10).double()
    # stratified: each class's share of the test set is its share of the data, up to rounding
    assert torch.all((test_counts - 0.25 * total).abs() <= 1.0)
    assert torch.equal(digits(seed=0).y_test, s.y_test)
    assert not torch.equal(digits(seed=1).y_test, s.y_test)
    with pytest.raises(ValueError, match="test_size"):
        digits(test_size=1.0)


def test_subset_is_balanced_seeded_and_keeps_the_test_set():
    s = mnist1d()
    sub = subset(s, 100, seed=3)
    assert tuple(sub.x_train.shape) == (100, 40)
    assert torch.bincount(sub.y_train, minlength=10).tolist() == [10] * 10
    assert torch.equal(sub.x_test, s.x_test)
    assert torch.equal(subset(s, 100, seed=3).x_train, sub.x_train)
    assert not torch.equal(subset(s, 100, seed=4).x_train, sub.x_train)
    # every kept row is a row of the original training set with its label
    rows = {tuple(r.tolist()): int(y) for r, y in zip(s.x_train, s.y_train)}
    assert all(rows[tuple(r.tolist())] == int(y) for r, y in zip(sub.x_train, sub.y_train))
    assert len(subset(s, 37, seed=0, per_class=False).y_train) == 37
    with pytest.raises(ValueError, match="n_train must be >= the number of classes"):
        subset(s, 5)
    with pytest.raises(ValueError, match="n_train must be an integer in \\[1, 4000\\], got 4001"):
        subset(s, 4001)


def test_loaders_are_seeded_by_their_own_generator():
    s = subset(mnist1d(), 200, seed=0)

    def order(seed):
        train, _ = loaders(s, batch_size=50, seed=seed)
        return torch.cat([y for _, y in train])

    torch.manual_seed(0)
    a = order(1)
    torch.manual_seed(99)  # the global generator does not matter
    assert torch.equal(order(1), a)
    assert not torch.equal(order(2), a)
    state = torch.get_rng_state()
    order(1)
    assert torch.equal(torch.get_rng_state(), state)  # drawing batches does not consume it


def test_loaders_channels_and_test_order():
    s = subset(mnist1d(), 100, seed=0)
    train, test = loaders(s, batch_size=32, channels=True, test_batch_size=400)
    xb, yb = next(iter(train))
    assert tuple(xb.shape) == (32, 1, 40) and tuple(yb.shape) == (32,)
    xt, yt = next(iter(test))
    assert tuple(xt.shape) == (400, 1, 40)
    assert torch.equal(yt, s.y_test[:400])  # the test loader keeps the order
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        loaders(s, batch_size=0)


def test_transfer_target_is_shifted_few_label_and_seeded():
    t0, t1 = transfer_target(200, seed=0), transfer_target(200, seed=1)
    assert tuple(t0.x_train.shape) == (200, 40) and tuple(t0.x_test.shape) == (1000, 40)
    assert torch.bincount(t0.y_train, minlength=10).tolist() == [20] * 10
    assert torch.equal(t0.x_test, t1.x_test)  # one test set for every seed
    assert not torch.equal(t0.x_train, t1.x_train)
    assert torch.equal(transfer_target(200, seed=0).x_train, t0.x_train)
    # the target's generator arguments differ from the source's: a genuine shift
    assert TRANSFER_TARGET_ARGS["padding"] != MNIST1D_DEFAULTS["padding"]
    assert TRANSFER_TARGET_ARGS["seed"] != TRANSFER_SOURCE_ARGS["seed"]
    assert not torch.allclose(t0.x_test, mnist1d(seed=TRANSFER_TARGET_ARGS["seed"]).x_test)
    with pytest.raises(ValueError, match="n_train must be an integer in \\[10, 4000\\], got 5"):
        transfer_target(5)


def test_transfer_source_uses_its_arguments():
    small = transfer_source(num_samples=100)
    same = mnist1d(**{**TRANSFER_SOURCE_ARGS, "num_samples": 100})
    assert torch.equal(small.x_train, same.x_train)
    assert TRANSFER_SOURCE_ARGS["num_samples"] >= 8 * MNIST1D_DEFAULTS["num_samples"]
    assert set(TRANSFER_SOURCE_ARGS) <= set(MNIST1D_DEFAULTS)
    assert set(TRANSFER_TARGET_ARGS) <= set(MNIST1D_DEFAULTS)
    assert "transfer_target" in data.__all__ and "transfer_source" in data.__all__
