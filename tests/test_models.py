"""course_lib.models: shapes, named parts, seeded construction, argument validation, recipes."""

from __future__ import annotations

import pickle

import pytest
import torch
from torch import nn

from course_lib.data import mnist1d, subset
from course_lib.models import (
    CNN,
    MLP,
    RECIPES,
    LogisticRegression,
    build_model,
    count_parameters,
)
from course_lib.pretrain import random_roll, train_classifier, train_recipe

MODELS = [LogisticRegression, MLP, CNN]


@pytest.mark.parametrize("cls", MODELS)
@pytest.mark.parametrize("shape", [(7, 40), (7, 1, 40)])
def test_models_map_batches_to_logits(cls, shape):
    model = cls(seed=0)
    assert tuple(model(torch.randn(*shape)).shape) == (7, 10)


@pytest.mark.parametrize("cls", MODELS)
def test_models_have_features_and_classifier_parts(cls):
    model = cls(seed=0)
    assert isinstance(model.features, nn.Sequential)
    assert isinstance(model.classifier, nn.Sequential)
    assert isinstance(model.classifier.linear, nn.Linear)
    names = [n for n, _ in model.named_parameters()]
    assert all(n.startswith(("features.block", "classifier.")) for n in names)
    assert "classifier.linear.weight" in names


def test_cnn_blocks_are_named_and_halve_the_length():
    model = CNN(channels=(8, 16, 32), kernel_sizes=(5, 3, 3), seed=0)
    assert [n for n, _ in model.features.named_children()] == ["block1", "block2", "block3"]
    assert [n for n, _ in model.features.block1.named_children()] == ["conv", "relu"]
    h = model.features(torch.zeros(2, 1, 40))
    assert tuple(h.shape) == (2, 32, 5) == (2, *model.feature_shape)
    assert model.classifier.linear.in_features == 32 * 5
    assert [n for n, _ in model.named_parameters()][:2] == [
        "features.block1.conv.weight",
        "features.block1.conv.bias",
    ]


def test_cnn_paper_size_and_other_lengths():
    paper = CNN(channels=(25, 25, 25), seed=0)
    assert paper.classifier.linear.in_features == 125  # the paper's linear_in
    long = CNN(in_length=64, channels=(4, 4), kernel_sizes=(3, 3), seed=0)
    assert long.feature_shape == (4, 16)
    assert tuple(long(torch.zeros(3, 64)).shape) == (3, 10)


def test_mlp_blocks_and_dropout():
    model = MLP(hidden_sizes=(100, 50, 20), dropout=0.2, seed=0)
    assert [n for n, _ in model.features.named_children()] == ["block1", "block2", "block3"]
    assert isinstance(model.features.block2.dropout, nn.Dropout)
    assert model.classifier.linear.in_features == 20
    assert not any(isinstance(m, nn.Dropout) for m in MLP(seed=0).modules())
    cnn = CNN(dropout=0.5, seed=0)
    assert list(cnn.classifier._modules) == ["flatten", "dropout", "linear"]


def test_parameter_counts_match_the_architectures():
    assert count_parameters(LogisticRegression()) == 40 * 10 + 10
    assert count_parameters(MLP(hidden_sizes=(100, 100))) == (40 * 100 + 100) + (
        100 * 100 + 100
    ) + (100 * 10 + 10)
    c = 64
    expected = (1 * c * 5 + c) + (c * c * 3 + c) * 2 + (c * 5 * 10 + 10)
    model = CNN()
    assert count_parameters(model) == expected
    for p in model.features.parameters():
        p.requires_grad_(False)
    assert count_parameters(model, trainable_only=True) == c * 5 * 10 + 10


@pytest.mark.parametrize("cls", MODELS)
def test_seeded_construction_is_reproducible_and_leaves_the_global_rng(cls):
    torch.manual_seed(5)
    state = torch.get_rng_state()
    a, b, c = cls(seed=1), cls(seed=1), cls(seed=2)
    assert torch.equal(torch.get_rng_state(), state)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert not all(torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))
    # seed=s gives the same weights as torch.manual_seed(s) before an unseeded construction
    torch.manual_seed(1)
    d = cls()
    assert all(torch.equal(pa, pd) for pa, pd in zip(a.parameters(), d.parameters()))


def test_reset_classifier_replaces_only_the_head():
    model = CNN(seed=0)
    conv = model.features.block1.conv.weight.clone()
    old_head = model.classifier.linear
    model.reset_classifier(5, seed=3)
    assert model.classifier.linear is not old_head
    assert model.classifier.linear.out_features == 5 and model.num_classes == 5
    assert torch.equal(model.features.block1.conv.weight, conv)
    assert tuple(model(torch.zeros(2, 40)).shape) == (2, 5)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: CNN(channels=()), ValueError, "channels must contain at least one integer"),
        (
            lambda: CNN(channels=(8, 0, 8)),
            ValueError,
            r"channels\[1\] must be an integer >= 1, got 0",
        ),
        (lambda: CNN(channels=(8, 2.5, 8)), TypeError, r"channels\[1\] must be an integer"),
        (lambda: CNN(channels="abc"), TypeError, "channels must be a sequence of integers"),
        (
            lambda: CNN(kernel_sizes=(5, 3)),
            ValueError,
            "kernel_sizes must have one entry per block",
        ),
        (lambda: CNN(kernel_sizes=(4, 3, 3)), ValueError, r"kernel_sizes\[0\] must be an odd"),
        (lambda: CNN(stride=0), ValueError, "stride must be an integer >= 1, got 0"),
        (
            lambda: CNN(dropout=1.0),
            ValueError,
            r"dropout must be a finite number in \[0, 1\), got 1.0",
        ),
        (lambda: MLP(dropout=-0.1), ValueError, r"dropout must be a finite number in \[0, 1\)"),
        (lambda: MLP(hidden_sizes=(100, -1)), ValueError, r"hidden_sizes\[1\] must be an integer"),
        (lambda: MLP(in_features=0), ValueError, "in_features must be an integer >= 1, got 0"),
        (
            lambda: LogisticRegression(num_classes=1),
            ValueError,
            "num_classes must be an integer >= 2",
        ),
        (lambda: CNN(in_length=True), TypeError, "in_length must be an integer"),
        (lambda: CNN(seed=-1), ValueError, "seed must be an integer >= 0, got -1"),
        (lambda: MLP(seed=1.0), TypeError, "seed must be an integer"),
        (lambda: build_model("resnet"), ValueError, "name must be one of 'logreg', 'mlp', 'cnn'"),
    ],
)
def test_bad_arguments_are_rejected_with_a_clear_message(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("cls", MODELS)
def test_wrong_input_length_is_a_clear_error(cls):
    with pytest.raises(ValueError, match="last dimension is 40, got shape \\(2, 39\\)"):
        cls()(torch.zeros(2, 39))


def test_models_pickle_round_trip():
    model = CNN(channels=(4, 4, 4), seed=0)
    copy = pickle.loads(pickle.dumps(model))
    x = torch.randn(3, 40)
    assert torch.equal(copy(x), model(x))


def test_every_recipe_builds_its_model():
    assert set(RECIPES) == {"logreg", "mlp", "cnn"}
    for name, r in RECIPES.items():
        model = build_model(r["model"], seed=0, **r["model_kwargs"])
        assert tuple(model(torch.zeros(2, 40)).shape) == (2, 10), name
        assert r["lr"] > 0 and r["epochs"] >= 1 and r["batch_size"] >= 1
        assert r["schedule"] in ("onecycle", "cosine", "constant")


def test_random_roll_is_a_seeded_circular_shift():
    x = torch.arange(10.0).view(1, 1, 10)
    y = random_roll(x, 3, torch.Generator().manual_seed(0))
    shift = int((y.flatten() == 0).nonzero())
    assert shift in (0, 1, 2, 3, 7, 8, 9)  # offsets -3..3 modulo 10
    assert torch.equal(torch.roll(x, shift, -1), y)
    assert torch.equal(random_roll(x, 3, torch.Generator().manual_seed(0)), y)
    assert random_roll(x, 0, torch.Generator()) is x


def _accuracy(model, x, y) -> float:
    """Test accuracy counted here, independently of the training code's evaluate."""
    model.eval()
    with torch.no_grad():
        return int((model(x).argmax(1) == y).sum()) / len(y)


def test_train_classifier_learns_and_is_deterministic():
    data = subset(mnist1d(), 200, seed=0)
    untrained = _accuracy(MLP(hidden_sizes=(32,), seed=0), data.x_test, data.y_test)

    def run():
        model = MLP(hidden_sizes=(32,), seed=0)
        return model, train_classifier(model, data, epochs=8, batch_size=50, seed=0)

    (m1, s1), (m2, s2) = run(), run()
    assert s1["train_loss"][-1] < 0.8 * s1["train_loss"][0]
    assert s1["train_loss"] == s2["train_loss"]
    assert all(torch.equal(p, q) for p, q in zip(m1.parameters(), m2.parameters()))
    # The reported accuracy is the trained model's own (0.218 here), well above the untrained 0.087.
    assert s1["test_acc"] == pytest.approx(_accuracy(m1, data.x_test, data.y_test), abs=1e-9)
    assert s1["test_acc"] > untrained + 0.1


def test_train_recipe_accepts_overrides_and_rejects_unknown_keys():
    data = subset(mnist1d(), 100, seed=0)
    model, stats = train_recipe("logreg", data, seed=0, epochs=1)
    assert isinstance(model, LogisticRegression) and len(stats["train_loss"]) == 1
    with pytest.raises(TypeError, match="unknown recipe key"):
        train_recipe("mlp", data, epoch=3)
