"""course_lib.param_groups: rules, no-decay groups, layer-wise rates, freezing, describe."""

from __future__ import annotations

import pickle

import pytest
import torch
from torch import nn

from course_lib import optim as course_optim
from course_lib.param_groups import (
    GradualUnfreezer,
    Rule,
    describe,
    discriminative_lrs,
    freeze,
    is_no_decay,
    layerwise_lr,
    no_decay_groups,
    split,
    split_no_decay,
    unfreeze,
)

# ---- models ---------------------------------------------------------------------------------------


class TwoPart(nn.Module):
    """features + classifier, with norms, a conv, an embedding and tied weights."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 6)
        self.features = nn.Sequential(
            nn.Conv1d(6, 8, 3), nn.GroupNorm(2, 8), nn.ReLU(), nn.Conv1d(8, 8, 3, bias=False)
        )
        self.norm = nn.LayerNorm((8, 4))
        self.classifier = nn.Sequential(nn.Linear(32, 16), nn.BatchNorm1d(16), nn.Linear(16, 6))
        self.decoder = nn.Linear(6, 10, bias=False)
        self.decoder.weight = self.embed.weight  # tied weights: one Parameter, two names


def make_two_part() -> nn.Module:
    return TwoPart()


def make_mlp() -> nn.Module:
    return nn.Sequential(
        nn.Linear(5, 8),
        nn.LayerNorm(8),
        nn.ReLU(),
        nn.Dropout(0.1),
        nn.Linear(8, 8),
        nn.Linear(8, 3),
    )


def make_partly_frozen() -> nn.Module:
    m = make_mlp()
    m[0].weight.requires_grad_(False)
    m[1].requires_grad_(False)
    return m


MODELS = {"two_part": make_two_part, "mlp": make_mlp, "partly_frozen": make_partly_frozen}


def is_matrix(name, param):
    return param.ndim >= 2


RULE_SETS = {
    "globs": [Rule("*.weight", lr=0.1), Rule("*bias", lr=0.2)],
    "types": [Rule(module_type=(nn.LayerNorm, nn.GroupNorm, nn.BatchNorm1d), weight_decay=0.0)],
    "regex_and_predicate": [Rule(regex=r".*\.0\..*"), Rule(predicate=is_matrix, lr=0.3)],
    "prefixes": [Rule(prefix=("features", "0"), lr=1e-3), Rule(prefix="classifier", lr=1e-2)],
}


def trainable(model, include_frozen=False):
    return [p for p in model.parameters() if p.requires_grad or include_frozen]


def assert_partition(groups, model, include_frozen=False):
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)), "a parameter is in two groups"
    assert set(ids) == {id(p) for p in trainable(model, include_frozen)}


# ---- split ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("include_frozen", [False, True])
@pytest.mark.parametrize("rules", RULE_SETS.values(), ids=RULE_SETS.keys())
@pytest.mark.parametrize("make", MODELS.values(), ids=MODELS.keys())
def test_split_puts_every_trainable_parameter_in_exactly_one_group(make, rules, include_frozen):
    model = make()
    groups = split(model, rules, rest=True, include_frozen=include_frozen, allow_empty=True)
    assert_partition(groups, model, include_frozen)
    assert all(isinstance(g, dict) and isinstance(g["name"], str) for g in groups)
    torch.optim.SGD(groups, lr=0.01)  # torch accepts them as they are


def test_split_first_matching_rule_wins():
    model = make_mlp()
    groups = split(model, [Rule("4.*", lr=0.5), Rule("*.weight", lr=0.1)], rest=True)
    by_name = {g["name"]: g for g in groups}
    assert [id(p) for p in by_name["4.*"]["params"]] == [id(model[4].weight), id(model[4].bias)]
    assert id(model[4].weight) not in [id(p) for p in by_name["*.weight"]["params"]]
    assert [g["name"] for g in groups] == ["4.*", "*.weight", "rest"]


def test_split_exclusive_rejects_doubly_matched_parameters_and_names_them():
    model = make_mlp()
    with pytest.raises(ValueError, match=r"more than one rule.*4\.weight") as err:
        split(model, [Rule("4.*"), Rule("*.weight")], rest=True, exclusive=True)
    assert "0.weight" not in str(err.value).split("exclusive=True")[1].replace("4.weight", "")


def test_split_unmatched_parameters_error_lists_their_names():
    model = make_mlp()
    with pytest.raises(ValueError, match="matched no rule") as err:
        split(model, [Rule("*.weight", lr=0.1)])
    msg = str(err.value)
    for name in ("0.bias", "1.bias", "4.bias", "5.bias"):
        assert name in msg
    assert "rest=True" in msg


def test_split_rest_group_is_opt_in_last_and_carries_its_hyperparameters():
    model = make_mlp()
    groups = split(model, [Rule(prefix="5", lr=0.1)], rest={"lr": 0.01, "name": "body"})
    assert [g["name"] for g in groups] == ["5", "body"]
    assert groups[1]["lr"] == 0.01 and len(groups[1]["params"]) == 6


def test_split_rejects_a_rule_that_matches_nothing_unless_allowed():
    model = make_mlp()
    with pytest.raises(ValueError, match=r"rules\[0\].*matched no parameter.*0, 1, 4, 5"):
        split(model, [Rule(prefix="featurs")], rest=True)
    groups = split(model, [Rule(prefix="featurs")], rest=True, allow_empty=True)
    assert [g["name"] for g in groups] == ["rest"]


def test_split_rejects_duplicate_group_names():
    with pytest.raises(ValueError, match="unique"):
        split(make_mlp(), [Rule("0.*", name="a"), Rule("1.*", name="a")], rest=True)


def test_rule_criteria_glob_prefix_regex_type_predicate():
    w = torch.zeros(2, 2)
    ln = nn.LayerNorm(2)
    assert Rule("features.*").matches("features.0.weight", w)
    assert not Rule("features.*").matches("features2.weight", w)
    assert Rule(prefix="features").matches("features.0.weight", w)
    assert not Rule(prefix="features").matches("features2.weight", w)
    assert Rule(regex=r"layers\.\d+\.weight").matches("layers.12.weight", w)
    assert not Rule(regex=r"weight").matches("layers.12.weight", w)  # fullmatch, not search
    assert Rule(module_type=nn.LayerNorm).matches("n.weight", w, ln)
    assert not Rule(module_type=nn.LayerNorm).matches("n.weight", w, nn.Linear(2, 2))
    assert Rule(predicate=is_matrix).matches("x", w)
    assert not Rule(predicate=is_matrix).matches("x", torch.zeros(3))
    both = Rule("*.weight", predicate=is_matrix)  # criteria combine with AND
    assert both.matches("a.weight", w) and not both.matches("a.weight", torch.zeros(3))
    assert not both.matches("a.bias", w)


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({}, ValueError, "at least one criterion"),
        ({"match": "*", "lr": -0.1}, ValueError, r"lr must be a finite number >= 0, got -0.1"),
        ({"match": "*", "weight_decay": float("nan")}, ValueError, "weight_decay must be"),
        ({"match": "*", "betas": (0.9, 1.0)}, ValueError, r"betas\[1\] must be"),
        ({"regex": "("}, ValueError, "regex must be a valid regular expression"),
        ({"module_type": int}, TypeError, "module_type must be an nn.Module subclass"),
        ({"predicate": 3}, TypeError, "predicate must be callable"),
        ({"match": ""}, TypeError, "match must be a non-empty string"),
        ({"match": "*", "params": []}, ValueError, "'params' is filled in"),
    ],
)
def test_rule_rejects_bad_arguments_with_a_clear_message(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        Rule(**kwargs)


def test_rule_is_immutable_and_pickles():
    rule = Rule("*.weight", predicate=is_matrix, module_type=nn.Linear, lr=0.1, name="w")
    assert pickle.loads(pickle.dumps(rule)) == rule
    with pytest.raises(AttributeError):
        rule.name = "other"
    assert repr(rule) == "Rule('*.weight', module_type=Linear, predicate=is_matrix, lr=0.1)"


@pytest.mark.parametrize(
    "opt_cls",
    [torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW, course_optim.SGD, course_optim.AdamW],
    ids=["torch.SGD", "torch.Adam", "torch.AdamW", "course_lib.SGD", "course_lib.AdamW"],
)
def test_name_key_survives_optimizer_and_state_dict_round_trip(opt_cls):
    model = make_mlp()
    groups = split(model, [Rule(prefix="5", lr=0.1)], rest={"lr": 0.01})
    opt = opt_cls(groups, lr=0.05)
    assert [g["name"] for g in opt.param_groups] == ["5", "rest"]
    model(torch.randn(4, 5)).sum().backward()
    opt.step()
    sd = opt.state_dict()
    assert [g["name"] for g in sd["param_groups"]] == ["5", "rest"]
    # A fresh optimizer built without names gets them (and the rates) back from the state dict.
    fresh = opt_cls(
        [{"params": list(model[5].parameters())}, {"params": groups[1]["params"]}], lr=0.5
    )
    fresh.load_state_dict(sd)
    assert [(g["name"], g["lr"]) for g in fresh.param_groups] == [("5", 0.1), ("rest", 0.01)]


def test_helpers_never_mutate_the_model():
    model = make_partly_frozen()
    before = {n: (p.detach().clone(), p.requires_grad) for n, p in model.named_parameters()}
    split(model, [Rule("*.weight")], rest=True, include_frozen=True)
    no_decay_groups(model, 0.1)
    layerwise_lr(model, ["0", "1", "4", "5"], lr=0.1, decay=0.5, include_frozen=True)
    describe(torch.optim.SGD(model.parameters(), lr=0.1), model)
    GradualUnfreezer(model, ["0", "4", "5"])
    for n, p in model.named_parameters():
        assert torch.equal(p, before[n][0]) and p.requires_grad == before[n][1]


# ---- no weight decay ------------------------------------------------------------------------------


def test_no_decay_groups_exempt_biases_1d_tensors_and_norm_weights():
    model = make_two_part()
    groups = no_decay_groups(model, 0.05, lr=1e-3, momentum=0.9)
    assert [g["name"] for g in groups] == ["decay", "no_decay"]
    decay, no_decay = groups
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    assert decay["lr"] == no_decay["lr"] == 1e-3 and decay["momentum"] == 0.9
    names = {id(p): n for n, p in model.named_parameters()}
    assert sorted(names[id(p)] for p in decay["params"]) == [
        "classifier.0.weight",
        "classifier.2.weight",
        "embed.weight",
        "features.0.weight",
        "features.3.weight",
    ]
    # norm.weight is 2-D (LayerNorm over (8, 4)) yet exempt: it belongs to a LayerNorm.
    assert model.norm.weight.ndim == 2 and any(p is model.norm.weight for p in no_decay["params"])
    assert_partition(groups, model)


def test_is_no_decay_rules():
    assert is_no_decay("fc.bias", torch.zeros(3, 3))
    assert is_no_decay("scale", torch.zeros(3))
    assert not is_no_decay("fc.weight", torch.zeros(3, 3))
    assert is_no_decay("n.weight", torch.zeros(3, 3), nn.LayerNorm((3, 3)))


def test_split_no_decay_composes_with_layerwise_rates():
    model = make_mlp()
    groups = split_no_decay(
        layerwise_lr(model, ["0", "1", "4", "5"], lr=0.1, decay=0.5, weight_decay=0.01), model
    )
    got = [(g["name"], g["lr"], g["weight_decay"], len(g["params"])) for g in groups]
    assert got == [
        ("0/decay", 0.0125, 0.01, 1),
        ("0/no_decay", 0.0125, 0.0, 1),
        ("1/no_decay", 0.025, 0.0, 2),  # a LayerNorm: nothing to decay, the empty half is dropped
        ("4/decay", 0.05, 0.01, 1),
        ("4/no_decay", 0.05, 0.0, 1),
        ("5/decay", 0.1, 0.01, 1),
        ("5/no_decay", 0.1, 0.0, 1),
    ]
    assert_partition(groups, model)


# ---- layer-wise rates -----------------------------------------------------------------------------


def test_discriminative_lrs_geometric_slice_and_explicit():
    assert discriminative_lrs(4, 0.8, decay=0.5) == [0.1, 0.2, 0.4, 0.8]
    spaced = discriminative_lrs(3, slice(1e-5, 1e-3))
    assert spaced == pytest.approx([1e-5, 1e-4, 1e-3], rel=1e-12)
    assert discriminative_lrs(1, slice(1e-5, 1e-3)) == [1e-3]
    assert discriminative_lrs(2, [0.1, 0.2]) == [0.1, 0.2]


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        ((3, 0.1), "decay is required"),
        ((3, 0.1, 1.5), r"decay must be a finite number in \(0, 1\], got 1.5"),
        ((3, [0.1, 0.2]), "one rate per block"),
        ((3, slice(1e-2, 1e-3)), r"lr.stop \(hi\) must be"),
        ((3, slice(0.0, 1e-3)), r"lr.start \(lo\) must be a finite number > 0"),
        ((3, slice(1e-4, 1e-3), 0.5), "decay must be None"),
        ((0, 0.1, 0.5), "num_blocks must be an integer >= 1, got 0"),
    ],
)
def test_discriminative_lrs_rejects_bad_arguments(args, pattern):
    with pytest.raises(ValueError, match=pattern):
        discriminative_lrs(*args)


def test_layerwise_lr_decays_geometrically_from_the_head():
    model = make_two_part()
    blocks = [("embed", "decoder"), "features", model.norm, "classifier"]
    groups = layerwise_lr(model, blocks, lr=1e-2, decay=0.1, momentum=0.9)
    assert [g["name"] for g in groups] == ["embed+decoder", "features", "norm", "classifier"]
    assert [g["lr"] for g in groups] == pytest.approx([1e-5, 1e-4, 1e-3, 1e-2], rel=1e-12)
    assert all(g["momentum"] == 0.9 for g in groups)
    assert [len(g["params"]) for g in groups] == [1, 5, 2, 6]
    assert_partition(groups, model)


def test_layerwise_lr_requires_every_parameter_in_a_block_unless_rest():
    model = make_mlp()
    with pytest.raises(ValueError, match=r"matched no rule: 0\.weight, 0\.bias, 1\.weight"):
        layerwise_lr(model, ["4", "5"], lr=slice(1e-3, 1e-2))
    groups = layerwise_lr(model, ["4", "5"], lr=slice(1e-3, 1e-2), rest={"lr": 0.0})
    assert [g["name"] for g in groups] == ["4", "5", "rest"]
    with pytest.raises(ValueError, match="not a submodule"):
        layerwise_lr(model, [nn.Linear(2, 2)], lr=0.1, decay=0.5)


# ---- freezing -------------------------------------------------------------------------------------


def test_freeze_and_unfreeze_set_requires_grad_and_return_the_names():
    model = make_two_part()
    assert freeze(model, "features") == [
        "features.0.weight",
        "features.0.bias",
        "features.1.weight",
        "features.1.bias",
        "features.3.weight",
    ]
    assert not any(p.requires_grad for p in model.features.parameters())
    assert freeze(model, [model.norm, model.classifier[0].weight]) == [
        "norm.weight",
        "norm.bias",
        "classifier.0.weight",
    ]
    assert unfreeze(model, model.features[0]) == ["features.0.weight", "features.0.bias"]
    assert model.features[0].weight.requires_grad and not model.features[1].weight.requires_grad
    assert len(freeze(model)) == len(list(model.parameters()))
    assert len(unfreeze(model)) == len(list(model.parameters()))


def test_freeze_rejects_unknown_targets_naming_the_top_level_modules():
    model = make_two_part()
    with pytest.raises(ValueError, match=r"'featurs'.*embed, features, norm, classifier, decoder"):
        freeze(model, "featurs")
    with pytest.raises(ValueError, match="not a submodule"):
        freeze(model, nn.Linear(2, 2))
    with pytest.raises(ValueError, match="not in the model"):
        freeze(model, nn.Parameter(torch.zeros(1)))
    with pytest.raises(TypeError, match="targets must be"):
        freeze(model, [3])


def test_frozen_parameters_are_left_out_of_groups_unless_include_frozen():
    model = make_partly_frozen()
    groups = split(model, [Rule("*.weight")], rest=True)
    held = {id(p) for g in groups for p in g["params"]}
    assert id(model[0].weight) not in held and id(model[1].weight) not in held
    groups = split(model, [Rule("*.weight")], rest=True, include_frozen=True)
    assert_partition(groups, model, include_frozen=True)
    freeze(model)
    with pytest.raises(ValueError, match="no trainable parameters"):
        split(model, [Rule("*")])


@pytest.mark.parametrize(
    "make_opt",
    [
        lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.5),
        lambda ps: torch.optim.AdamW(ps, lr=0.1, weight_decay=0.5),
        lambda ps: torch.optim.Adam(ps, lr=0.1, weight_decay=0.5),
    ],
    ids=["SGD", "AdamW", "Adam"],
)
def test_frozen_parameter_in_optimizer_gets_no_update_no_decay_no_state_until_unfrozen(make_opt):
    torch.manual_seed(0)
    model = make_mlp()
    freeze(model, "0")
    opt = make_opt(no_decay_groups(model, 0.5, include_frozen=True))
    w0 = model[0].weight.detach().clone()
    x = torch.randn(8, 5)
    for _ in range(3):
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
    assert model[0].weight.grad is None
    assert torch.equal(model[0].weight, w0)  # weight decay did not touch it either
    assert model[0].weight not in opt.state  # no state created for it
    assert model[4].weight in opt.state
    unfreeze(model, "0")
    opt.zero_grad()
    model(x).pow(2).mean().backward()
    opt.step()
    assert model[0].weight in opt.state and not torch.equal(model[0].weight, w0)


def test_freeze_clears_grad_so_momentum_stops_moving_the_parameter():
    torch.manual_seed(0)
    model = make_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(8, 5)
    model(x).pow(2).mean().backward()
    opt.step()
    freeze(model, "5")
    w = model[5].weight.detach().clone()
    opt.zero_grad(set_to_none=False)  # a stale zero grad would keep momentum going
    model(x).pow(2).mean().backward()
    opt.step()
    assert torch.equal(model[5].weight, w)


def test_gradual_unfreezer_unfreezes_one_more_block_from_the_head_every_k_epochs():
    model = make_mlp()
    freeze(model)
    opt = torch.optim.SGD(split(model, [Rule("*")], include_frozen=True), lr=0.1)
    unfreezer = GradualUnfreezer(model, ["0", "1", "4", "5"], every=2, optimizer=opt)
    seen = []
    for epoch in range(8):
        newly = unfreezer.step(epoch)
        seen.append((newly, [n for n, p in model.named_parameters() if p.requires_grad]))
    assert seen[0] == (["5"], ["5.weight", "5.bias"])
    assert seen[1] == ([], ["5.weight", "5.bias"])
    assert seen[2][0] == ["4"] and seen[4][0] == ["1"] and seen[6][0] == ["0"]
    assert len(seen[7][1]) == 8
    # idempotent and exact: going back to epoch 0 freezes again (what a resumed run needs)
    unfreezer.step(0)
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["5.weight", "5.bias"]
    assert unfreezer.trainable_blocks(3) == ["4", "5"]


def test_gradual_unfreezer_checks_the_optimizer_holds_the_frozen_blocks():
    model = make_mlp()
    freeze(model, "0")
    opt = torch.optim.SGD(split(model, [Rule("*")]), lr=0.1)  # frozen 0.* left out
    with pytest.raises(ValueError, match=r"does not hold 2 parameter.*0\.weight, 0\.bias"):
        GradualUnfreezer(model, ["0", "4", "5"], optimizer=opt)
    with pytest.raises(ValueError, match="every must be an integer >= 1, got 0"):
        GradualUnfreezer(model, ["0"], every=0)


# ---- describe -------------------------------------------------------------------------------------


def test_describe_text_table_lists_groups_counts_and_hyperparameters():
    model = make_mlp()
    freeze(model, "0")
    groups = layerwise_lr(model, ["0", "1", "4", "5"], lr=0.1, decay=0.5, include_frozen=True)
    opt = torch.optim.Adam(groups, weight_decay=1e-4)
    text = str(describe(opt, model))
    lines = text.splitlines()
    assert lines[0].split()[:7] == [
        "group",
        "tensors",
        "parameters",
        "frozen",
        "lr",
        "weight_decay",
        "betas",
    ]
    assert lines[2].split()[:6] == ["0", "2", "48", "2", "0.0125", "0.0001"]
    assert lines[5].split()[:5] == ["5", "2", "27", "0", "0.1"]
    assert "(0.9, 0.999)" in lines[5]
    assert "foreach" not in text and "params" not in lines[0].split()
    assert "total: 8 tensors, 163 parameters in 4 groups" in text
    assert "every trainable parameter is in a group" in text


def test_describe_html_escapes_and_warns_about_parameters_in_no_group():
    model = make_mlp()
    groups = [{"params": list(model[5].parameters()), "name": "<head>", "lr": 0.1}]
    table = describe(groups, model)
    page = table._repr_html_()
    assert page.startswith("<table>") and "&lt;head&gt;" in page and "<head>" not in page
    assert "WARNING: 6 trainable tensor(s) in no group" in str(table)
    assert "0.weight, 0.bias, 1.weight" in str(table)
    with pytest.raises(TypeError, match="optimizer or a list of group dicts"):
        describe(model)
