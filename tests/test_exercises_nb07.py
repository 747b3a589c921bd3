"""Notebook 07's self-checks accept the reference solutions and reject typical mistakes with a hint."""

import pytest
from _exercise_tests import answer_tests, rejects_with_hint

from course_lib.exercises import nb07
from course_lib.exercises.solutions.nb07 import unfreeze
from course_lib.param_groups import GradualUnfreezer
from course_lib.transfer import BLOCKS

# Reference solutions (the notebook's exercise cells start from None).
SOLUTIONS = {
    nb07.check_feature_extraction_parameters: 3210,  # Linear(64 * 5 = 320, 10): 3200 + 10
    nb07.check_gradual_trainable: 27914,  # head 3210 + block3 12352 + block2 12352
    nb07.check_backbone_start_lr: 4e-5,  # (1e-2 / 10) / 25
    nb07.check_feature_extraction_2d: 5130,  # Linear(32 * 4 * 4 = 512, 10): 5120 + 10
}


(
    test_check_accepts_the_reference_solution,
    test_check_asks_for_an_answer_when_given_none_and_never_raises_on_junk,
) = answer_tests(SOLUTIONS, junk=("abc", True, float("nan"), float("inf"), object(), [1, 2]))


# For each typical mistake: the hint the learner must see (the whole printed line).
MISTAKES = [
    (
        nb07.check_feature_extraction_2d,
        5120,  # the 2-D head's weights only
        "Almost: the head's bias trains too.",
    ),
    (
        nb07.check_feature_extraction_2d,
        81930,  # forgot the two poolings: 32 * 16 * 16 * 10 + 10
        "The two MaxPool2d(2) halve the side twice: 16 -> 8 -> 4.",
    ),
    (
        nb07.check_feature_extraction_2d,
        4800,  # the frozen 2-D backbone
        "That is the number of FROZEN parameters (the backbone).",
    ),
    (
        nb07.check_feature_extraction_parameters,
        28298,  # every parameter of the model
        "That is every parameter: under feature extraction the backbone is frozen.",
    ),
    (
        nb07.check_feature_extraction_parameters,
        3200,  # the head's weight matrix only
        "Almost: the head's bias trains too.",
    ),
    (
        nb07.check_feature_extraction_parameters,
        25088,  # the backbone
        "That is the number of FROZEN parameters (the backbone).",
    ),
    (
        nb07.check_feature_extraction_parameters,
        10,  # the number of classes
        "Not quite (10). Count the parameters with requires_grad=True of "
        "build_strategy('feature_extraction').model.",
    ),
    (
        nb07.check_gradual_trainable,
        15562,  # epoch 1: head and block3
        "Off by one epoch: that is epoch 1. Epochs count from 0 (head only).",
    ),
    (
        nb07.check_gradual_trainable,
        28298,  # epoch 3: everything
        "Off by one epoch: that is epoch 3, when every block trains.",
    ),
    (
        nb07.check_gradual_trainable,
        3210,  # the head alone (epoch 0, two epochs off)
        "Not quite (3210). Build the strategy, call on_epoch_start(e) for e = 0..2, then count "
        "the parameters with requires_grad=True.",
    ),
    (
        nb07.check_backbone_start_lr,
        4e-4,  # the head's starting rate
        "That is the head's starting rate; the backbone's peak is 10x lower.",
    ),
    (
        nb07.check_backbone_start_lr,
        1e-3,  # the backbone's peak
        "That is the backbone's PEAK; one-cycle starts lower (warm-up).",
    ),
    (
        nb07.check_backbone_start_lr,
        1e-4,  # peak / 10 instead of / 25
        "Not quite (0.0001). One-cycle starts at max_lr / div_factor for each group.",
    ),
]


@pytest.mark.parametrize(
    ("check", "wrong", "hint"), MISTAKES, ids=[f"{c.__name__}-{w:g}" for c, w, _ in MISTAKES]
)
def test_check_rejects_a_typical_mistake_with_its_hint(check, wrong, hint, capsys):
    assert check(wrong) is False
    printed = capsys.readouterr().out
    assert printed == hint + "\n"  # exactly that hint: no "Correct", no second message
    # a hint points at the mistake without giving the answer away
    assert str(SOLUTIONS[check]) not in printed and f"{SOLUTIONS[check]:g}" not in printed


@pytest.mark.parametrize("check", list(SOLUTIONS), ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    ("junk", "hint"),
    [
        ("abc", "Answer with a number, got 'abc'."),
        (True, "Answer with a number, got True."),
        (float("nan"), "Answer with a finite number, got nan."),
        ([1, 2], "Answer with a number, got [1, 2]."),
    ],
)
def test_each_junk_answer_gets_its_own_hint(check, junk, hint, capsys):
    assert check(junk) is False
    assert capsys.readouterr().out == hint + "\n"


def test_checks_follow_their_arguments(capsys):
    assert nb07.check_gradual_trainable(3210, epoch=0) is True
    assert capsys.readouterr().out == (
        "Correct: 3210 (head); block3, block2 and block1 are still frozen.\n"
    )
    assert nb07.check_gradual_trainable(27914) is True
    assert (
        capsys.readouterr().out
        == "Correct: 27914 (head, block3 and block2); block1 is still frozen.\n"
    )
    assert nb07.check_gradual_trainable(28298, epoch=3) is True
    assert "every block trains" in capsys.readouterr().out
    assert nb07.check_backbone_start_lr(1e-3 / 25, head_lr=1e-3, factor=1.0) is True
    assert "Correct: 4e-05 = 0.001 / 25." in capsys.readouterr().out
    assert nb07.check_backbone_start_lr(4e-6, head_lr=1e-3, factor=1.0) is False
    assert "Not quite (4e-06)" in capsys.readouterr().out


# --- the coding exercise: gradual unfreezing by hand ----------------------------------------------


def _release(model, blocks):
    """Make ``blocks`` (names in BLOCKS) train; return their parameters."""
    params = [p for b in blocks for p in model.get_submodule(b).parameters()]
    for p in params:
        p.requires_grad_(True)
    return params


def _unfreeze(
    order=("features.block3", "features.block2", "features.block1"),
    *,
    add=True,
    shift=0,
    factor=1.0,
):
    """A learner's unfreeze: block ``order[e - 1 + shift]`` released in epoch e, added to the
    optimizer (when ``add``) at ``factor`` x backbone_lr."""

    def unfreeze(model, optimizer, epoch, backbone_lr):
        k = epoch - 1 + shift
        if 0 <= k < len(order):
            params = _release(model, [order[k]])
            if add:
                optimizer.add_param_group({"params": params, "lr": factor * backbone_lr})

    return unfreeze


def _all_at_once(model, optimizer, epoch, backbone_lr):
    if epoch == 1:
        params = _release(model, BLOCKS[:-1])
        optimizer.add_param_group({"params": params, "lr": backbone_lr})


def _added_again(model, optimizer, epoch, backbone_lr):
    # every epoch adds all the released blocks, the earlier ones a second time
    if epoch >= 1:
        params = _release(model, BLOCKS[max(0, 3 - epoch) : 3])
        optimizer.add_param_group({"params": params, "lr": backbone_lr})


def _course_way(model, optimizer, epoch, backbone_lr):
    # course_lib's way: the optimizer holds the frozen backbone from the start (include_frozen)
    if epoch == 0:
        optimizer.add_param_group({"params": list(model.features.parameters()), "lr": backbone_lr})
    GradualUnfreezer(model, BLOCKS).step(epoch)


def _weights_only(model, optimizer, epoch, backbone_lr):
    if 1 <= epoch <= 3:
        conv = model.get_submodule(BLOCKS[3 - epoch]).conv
        conv.weight.requires_grad_(True)
        optimizer.add_param_group({"params": [conv.weight], "lr": backbone_lr})


def _freeze_everything(model, optimizer, epoch, backbone_lr):
    for p in model.parameters():
        p.requires_grad_(False)


@pytest.mark.parametrize("fn", [unfreeze, _course_way], ids=["answer-key", "include-frozen"])
def test_unfreezing_answer_key_and_the_course_way_pass(fn, capsys):
    assert nb07.check_unfreezing(fn) is True
    assert capsys.readouterr().out == (
        "Correct: in each of epochs 0-4 the same blocks train as with GradualUnfreezer, and the "
        "optimizer holds them at the strategy's rates.\n"
    )


UNFREEZE_MISTAKES = {
    "from the bottom": (
        _unfreeze(order=("features.block1", "features.block2", "features.block3")),
        "Epoch 1: training head, block1.",
        "You unfreeze from the bottom (block1, next to the input, first).",
    ),
    "all at once": (
        _all_at_once,
        "Epoch 1: training head, block3, block2, block1.",
        "Every block trains already: release one block per epoch",
    ),
    "not added to the optimizer": (
        _unfreeze(add=False),
        "Epoch 1: training head, block3.",
        "features.block3.conv.weight trains (requires_grad=True) but the optimizer does not "
        "hold it",
    ),
    "added twice": (
        _added_again,
        "Your function raised ValueError in epoch 2",
        "A block was added to the optimizer twice: add it once, in the epoch it is released",
    ),
    "head's rate": (
        _unfreeze(factor=10.0),
        "Epoch 1: training head, block3.",
        "features.block3.conv.weight is in a group at the head's rate; the backbone's blocks train "
        "at backbone_lr = 0.001 and the head at 0.01.",
    ),
    "one epoch early": (
        _unfreeze(shift=1),
        "Epoch 0: training head, block3.",
        "That is the state of epoch 1, one epoch early",
    ),
    "one epoch late": (
        _unfreeze(shift=-1),
        "Epoch 1: training head.",
        "That is the state of epoch 0, one epoch late",
    ),
    "weights only": (
        _weights_only,
        "Epoch 1: training head.",
        "Some of block3's parameters train and some do not: release a block whole",
    ),
    "head frozen": (
        _freeze_everything,
        "Epoch 0: training nothing.",
        "The head must train in every epoch, from epoch 0 on",
    ),
}


@pytest.mark.parametrize(
    ("fn", "where", "hint"), UNFREEZE_MISTAKES.values(), ids=list(UNFREEZE_MISTAKES)
)
def test_unfreezing_mistake_gets_its_hint(fn, where, hint, capsys):
    out = rejects_with_hint(nb07.check_unfreezing, fn, hint, capsys)
    assert out.startswith(where)


def test_unfreezing_unfinished_answers_say_how_to_proceed(capsys):
    def skeleton(model, optimizer, epoch, backbone_lr):
        raise NotImplementedError

    assert nb07.check_unfreezing(skeleton) is False
    assert "Write the body of your function" in capsys.readouterr().out
    assert nb07.check_unfreezing(None) is False
    assert "Fill in your answer" in capsys.readouterr().out
    assert nb07.check_unfreezing("unfreeze") is False
    assert (
        "Answer with a function fn(model, optimizer, epoch, backbone_lr)" in capsys.readouterr().out
    )


def test_reference_unfreezing_is_the_gradual_strategy_one_block_per_epoch_from_the_top():
    states, rates = nb07.reference_unfreezing()
    assert [nb07.trained(s) for s in states] == [
        ["head"],
        ["head", "block3"],
        ["head", "block3", "block2"],
        ["head", "block3", "block2", "block1"],
        ["head", "block3", "block2", "block1"],
    ]
    assert {n: r for n, r in rates.items() if n.startswith("classifier")} == {
        "classifier.linear.weight": nb07.HEAD_LR,
        "classifier.linear.bias": nb07.HEAD_LR,
    }
    assert {r for n, r in rates.items() if n.startswith("features")} == {nb07.BACKBONE_LR}
    model, optimizer = nb07.unfreezing_setup()  # where the learner starts: feature extraction
    held = [p for g in optimizer.param_groups for p in g["params"]]
    assert held == list(model.classifier.parameters())
    assert [p for p in model.parameters() if p.requires_grad] == held
