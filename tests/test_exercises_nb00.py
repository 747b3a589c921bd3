"""Notebook 00's self-checks accept the reference answers and reject typical wrong ones."""

import pytest
import torch
from _exercise_tests import rejects_with_hint
from torch import nn

from course_lib.exercises import nb00
from course_lib.exercises.solutions.nb00 import train_one_epoch
from course_lib.training import train_step


def _mlp():
    return nn.Sequential(
        nn.Linear(40, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 10)
    )


def test_reference_answers_pass(capsys):
    assert nb00.check_num_parameters(40 * 100 + 100 + 100 * 100 + 100 + 100 * 10 + 10, _mlp())
    assert nb00.check_grad_factor(2)
    assert nb00.check_sgd_group_keys(
        {"lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"}
    )
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("check", "wrong", "hint"),
    [
        # forgot the biases: the hint spells out weights + biases per layer
        (
            lambda a: nb00.check_num_parameters(a, _mlp()),
            40 * 100 + 100 * 100 + 100 * 10,
            "Not quite (15000). A Linear(n_in, n_out) layer holds n_in*n_out weights and n_out "
            "biases; add them up: (40*100 + 100) + (100*100 + 100) + (100*10 + 10).",
        ),
        (
            nb00.check_grad_factor,
            1,
            "Not quite: backward() does not overwrite .grad. Run the experiment in the notebook.",
        ),
        (nb00.check_grad_factor, 4, "Not quite (4.0): each backward() adds one more copy"),
        (nb00.check_grad_factor, "two", "Answer with a number, got 'two'."),
        (
            nb00.check_sgd_group_keys,
            {"lr", "betas"},
            "Not quite. Missing: ['dampening', 'maximize', 'momentum', 'nesterov', "
            "'weight_decay']; not SGD keys: ['betas']. Print optimizer.param_groups[0].keys()",
        ),
        (
            nb00.check_sgd_group_keys,
            {"lr", "momentum", "dampening", "weight_decay", "nesterov"},
            "Missing: ['maximize']; not SGD keys: none.",
        ),
    ],
)
def test_wrong_answers_print_the_hint_and_return_false(check, wrong, hint, capsys):
    rejects_with_hint(check, wrong, hint, capsys)


def test_none_asks_to_fill_in(capsys):
    assert not nb00.check_grad_factor(None)
    assert "Fill in" in capsys.readouterr().out


def test_sgd_keys_check_agrees_with_installed_torch():
    p = nn.Parameter(torch.zeros(1))
    keys = set(torch.optim.SGD([p], lr=0.1).param_groups[0]) - {"params"}
    assert nb00.check_sgd_group_keys(keys)


# --- the coding exercise: train_one_epoch ---------------------------------------------------------


def _epoch(order, *, train=True, mean="weighted"):
    """A learner's train_one_epoch: the per-batch calls in ``order``, the model put in training mode
    or not, the mean loss ``"weighted"`` by batch size, a ``"plain"`` mean, or ``"none"``."""

    def train_one_epoch(model, optimizer, loader, loss_fn):
        if train:
            model.train()
        losses, sizes = [], []
        for x, y in loader:
            loss = None
            for call in order:
                if call == "loss":
                    loss = loss_fn(model(x), y)
                elif call == "backward":
                    loss.backward()
                else:
                    getattr(optimizer, call)()
            losses.append(loss.item())
            sizes.append(len(y))
        if mean == "weighted":
            return sum(n * v for n, v in zip(sizes, losses)) / sum(sizes)
        return sum(losses) / len(losses) if mean == "plain" else None

    return train_one_epoch


RIGHT = ("zero_grad", "loss", "backward", "step")


def test_train_one_epoch_answer_key_passes(capsys):
    assert nb00.check_train_one_epoch(train_one_epoch) is True
    out = capsys.readouterr().out
    assert out.startswith("Correct: the weights after each of the 3 batches and the mean loss")


@pytest.mark.parametrize(
    "fn",
    [
        _epoch(("loss", "backward", "step", "zero_grad")),  # zero_grad at the end of the loop
        _epoch(("loss", "zero_grad", "backward", "step")),  # between forward and backward
    ],
    ids=["zero_grad-after-step", "zero_grad-after-forward"],
)
def test_train_one_epoch_accepts_other_right_orders(fn, capsys):
    assert nb00.check_train_one_epoch(fn) is True
    assert "Correct" in capsys.readouterr().out


EPOCH_MISTAKES = {
    "zero_grad missing": (
        _epoch(("loss", "backward", "step")),
        "The weights after batch 2 of 3 differ from fit's, first in 0.weight",
        "The gradients accumulate: backward() adds into .grad",
    ),
    "zero_grad after backward": (
        _epoch(("loss", "backward", "zero_grad", "step")),
        "The weights after batch 1 of 3 differ from fit's, first in 0.weight",
        "zero_grad ran between backward() and step(): it wiped the gradient",
    ),
    "step before backward": (
        _epoch(("zero_grad", "loss", "step", "backward")),
        "The weights after batch 1 of 3 differ from fit's",
        "optimizer.step() ran before loss.backward()",
    ),
    "step before backward, no zero_grad": (
        _epoch(("loss", "step", "backward")),
        "Your function raised RuntimeError",
        "optimizer.step() changed the weights in place before loss.backward() used them",
    ),
    "no model.train()": (
        _epoch(RIGHT, train=False),
        "The weights after batch 1 of 3 differ from fit's",
        "The model was in eval mode, so dropout was off: call model.train()",
    ),
    "plain mean over unequal batches": (
        _epoch(RIGHT, mean="plain"),
        "The weights are right, but the mean loss",
        "That is the plain mean of the batch losses, but the batches hold 8, 8 and 6 examples",
    ),
    "no return": (_epoch(RIGHT, mean="none"), "", "Your function returned None"),
    "no step": (_epoch(("zero_grad", "loss", "backward")), "", "never called optimizer.step()"),
    "two steps per batch": (
        _epoch(("zero_grad", "loss", "backward", "step", "step")),
        "",
        "called optimizer.step() 6 times for 3 batches: one per batch.",
    ),
}


@pytest.mark.parametrize(("fn", "where", "hint"), EPOCH_MISTAKES.values(), ids=list(EPOCH_MISTAKES))
def test_train_one_epoch_mistake_gets_its_hint(fn, where, hint, capsys):
    out = rejects_with_hint(nb00.check_train_one_epoch, fn, hint, capsys)
    assert where in out


def test_train_one_epoch_unfinished_answers_say_how_to_proceed(capsys):
    def skeleton(model, optimizer, loader, loss_fn):
        raise NotImplementedError

    assert nb00.check_train_one_epoch(skeleton) is False
    assert "Write the body of your function" in capsys.readouterr().out
    assert nb00.check_train_one_epoch(None) is False
    assert "Fill in your answer" in capsys.readouterr().out
    assert nb00.check_train_one_epoch(3) is False
    assert "Answer with a function fn(model, optimizer, loader, loss_fn)" in capsys.readouterr().out


def test_train_one_epoch_check_leaves_the_global_rng_as_it_was():
    state = torch.get_rng_state()
    nb00.check_train_one_epoch(_epoch(RIGHT))
    assert torch.equal(torch.get_rng_state(), state)


def test_reference_epoch_is_the_courses_train_step_loop_weighted_by_batch_size():
    model, loader = nb00.epoch_setup()
    optimizer = torch.optim.SGD(model.parameters(), lr=nb00.LR, momentum=nb00.MOMENTUM)
    weights, total = [], 0.0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(nb00.SEED)
        model.train()
        for x, y in loader:
            total += train_step(model, optimizer, x, y).loss * len(y)
            weights.append(nb00.weights(model))
    reference, mean, batch_losses = nb00.reference_epoch()
    assert [len(y) for _, y in loader] == list(nb00.SIZES)
    assert all(nb00.close(a, b) for a, b in zip(weights, reference)) and len(reference) == 3
    assert mean == pytest.approx(total / sum(nb00.SIZES), rel=1e-12)
    assert mean != pytest.approx(sum(batch_losses) / 3, rel=1e-6)  # the unequal sizes matter
