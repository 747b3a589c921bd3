"""Parameter groups: split a model's parameters into optimizer groups, freeze and unfreeze, describe.

An optimizer holds a list of *parameter groups*: plain dicts with a ``"params"`` list and the
hyperparameters of those parameters (``lr``, ``weight_decay``, ``momentum``, ...). Keys the optimizer
does not know are kept as they are, so every group made here carries a ``"name"``; ``state_dict`` and
``load_state_dict`` keep it (checked in ``tests/test_param_groups.py``).

The helpers here return such dicts and never touch the model. Two functions mutate it, on purpose and
only them: :func:`freeze` and :func:`unfreeze` (and :class:`GradualUnfreezer`, which calls them).

Policies:

- **First matching rule wins.** :func:`split` tries the rules in order; a parameter goes to the group of
  the first rule that matches it. ``exclusive=True`` turns a second match into an error instead.
- **Every trainable parameter lands in exactly one group.** A parameter that no rule matches is an error
  that lists its name, unless ``rest=`` asks for a catch-all group (opt-in, put last).
- **Frozen parameters** (``requires_grad=False``) are left out by default. With ``include_frozen=True``
  they are put in their groups anyway, so that a later :func:`unfreeze` trains them without rebuilding the
  optimizer. That is safe: torch optimizers skip a parameter whose ``.grad`` is ``None`` (no update, no
  weight decay, no state), and create its state (momentum buffer, ``exp_avg``) lazily at its first
  gradient. :func:`freeze` also sets ``.grad`` to ``None`` so momentum and weight decay stop at once.

    >>> from torch import nn
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2))
    >>> groups = split(model, [Rule("2.*", lr=1e-2), Rule(module_type=nn.LayerNorm, weight_decay=0.0)],
    ...                rest={"lr": 1e-3})
    >>> [(g["name"], len(g["params"])) for g in groups]
    [('2.*', 2), ('LayerNorm', 2), ('rest', 2)]
"""

from __future__ import annotations

import fnmatch
import html
import math
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from course_lib._validation import check_bool, check_int, check_number, check_pair

__all__ = [
    "NORM_TYPES",
    "GradualUnfreezer",
    "GroupTable",
    "Rule",
    "describe",
    "discriminative_lrs",
    "freeze",
    "is_no_decay",
    "layerwise_lr",
    "no_decay_groups",
    "split",
    "split_no_decay",
    "unfreeze",
]

#: Normalisation layers whose weights get no weight decay (scaling them is what they are for).
NORM_TYPES: tuple[type[nn.Module], ...] = (
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.LazyBatchNorm1d,
    nn.LazyBatchNorm2d,
    nn.LazyBatchNorm3d,
    nn.SyncBatchNorm,
    nn.InstanceNorm1d,
    nn.InstanceNorm2d,
    nn.InstanceNorm3d,
    nn.GroupNorm,
    nn.LayerNorm,
    nn.RMSNorm,
)

_MAX_LISTED = 20  # names listed in an error message before "... and N more"


def _list_names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_MAX_LISTED])
    if len(names) > _MAX_LISTED:
        shown += f", ... and {len(names) - _MAX_LISTED} more"
    return shown


def _check_hparams(where: str, hparams: Mapping) -> dict:
    """Validate the hyperparameters of a group: names are strings, known ones are in range."""
    out = {}
    for key, value in hparams.items():
        if not isinstance(key, str):
            raise TypeError(f"{where}: hyperparameter names must be strings, got {key!r}")
        if key == "params":
            raise ValueError(f"{where}: 'params' is filled in by the rule, do not pass it")
        if key in ("lr", "weight_decay", "momentum", "eps", "dampening", "alpha", "lr_decay"):
            check_number(f"{where} {key}", value, low=0.0)
        elif key == "betas":
            value = check_pair(f"{where} betas", value, low=0.0, high=1.0, high_inclusive=False)
        out[key] = value
    return out


def _as_tuple(value) -> tuple:
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return (value,)


# --------------------------------------------------------------------------------------------------
# Rules and split
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, init=False, repr=False)
class Rule:
    """One rule of :func:`split`: which parameters it matches, and the hyperparameters of their group.

    A rule matches a parameter (full name such as ``features.0.weight``) when *all* the criteria it
    was given hold:

    - ``match``: a glob (``fnmatch``: ``*`` also crosses dots) on the full name, or a tuple of globs
      (any of them);
    - ``prefix``: a module name (``"features"`` matches ``features.0.weight`` but not
      ``features2.weight``) or a tuple of them;
    - ``regex``: a regular expression that must match the *whole* name (``re.fullmatch``);
    - ``module_type``: the module that directly owns the parameter is an instance of this type (or
      tuple of types), e.g. ``nn.LayerNorm``;
    - ``predicate``: ``predicate(name, param) -> bool``, a module-level function so the rule pickles.

    Every other keyword is a hyperparameter of the group (``lr``, ``weight_decay``, ``momentum``,
    ``betas``, or any extra key the optimizer should carry). ``name`` names the group; by default it
    is made from the criteria.

    Example:
        >>> Rule("features.*", lr=1e-3).hparams
        {'lr': 0.001}
        >>> Rule(module_type=nn.LayerNorm, weight_decay=0.0).name
        'LayerNorm'
    """

    match: tuple[str, ...]
    prefix: tuple[str, ...]
    regex: str | None
    module_type: tuple[type, ...]
    predicate: Callable | None
    name: str
    hparams_items: tuple[tuple[str, object], ...]

    def __init__(
        self,
        match: str | Sequence[str] | None = None,
        *,
        prefix: str | Sequence[str] | None = None,
        regex: str | None = None,
        module_type: type | Sequence[type] | None = None,
        predicate: Callable | None = None,
        name: str | None = None,
        **hparams,
    ):
        match_t, prefix_t, types_t = _as_tuple(match), _as_tuple(prefix), _as_tuple(module_type)
        for arg, values in (("match", match_t), ("prefix", prefix_t)):
            for v in values:
                if not isinstance(v, str) or not v:
                    raise TypeError(
                        f"{arg} must be a non-empty string or a tuple of them, got {v!r}"
                    )
        if regex is not None:
            if not isinstance(regex, str):
                raise TypeError(f"regex must be a string, got {regex!r}")
            try:
                re.compile(regex)
            except re.error as err:
                raise ValueError(
                    f"regex must be a valid regular expression, got {regex!r}: {err}"
                ) from None
        for t in types_t:
            if not (isinstance(t, type) and issubclass(t, nn.Module)):
                raise TypeError(f"module_type must be an nn.Module subclass (or tuple), got {t!r}")
        if predicate is not None and not callable(predicate):
            raise TypeError(f"predicate must be callable(name, param) -> bool, got {predicate!r}")
        if not (match_t or prefix_t or regex or types_t or predicate):
            raise ValueError(
                "a Rule needs at least one criterion: match, prefix, regex, module_type or "
                "predicate (use split(..., rest=...) for a catch-all group)"
            )
        if name is not None and (not isinstance(name, str) or not name):
            raise TypeError(f"name must be a non-empty string, got {name!r}")
        hp = _check_hparams(f"Rule({name or ''})", hparams)
        set_ = object.__setattr__
        set_(self, "match", match_t)
        set_(self, "prefix", prefix_t)
        set_(self, "regex", regex)
        set_(self, "module_type", types_t)
        set_(self, "predicate", predicate)
        set_(self, "hparams_items", tuple(hp.items()))
        set_(self, "name", name if name is not None else self._label())

    def _label(self) -> str:
        parts = []
        if self.match:
            parts.append("|".join(self.match))
        if self.prefix:
            parts.append("|".join(self.prefix))
        if self.regex:
            parts.append(f"/{self.regex}/")
        if self.module_type:
            parts.append("|".join(t.__name__ for t in self.module_type))
        if self.predicate is not None:
            parts.append(getattr(self.predicate, "__name__", type(self.predicate).__name__))
        return " & ".join(parts)

    @property
    def hparams(self) -> dict:
        """The group's hyperparameters as a new dict."""
        return dict(self.hparams_items)

    def matches(self, name: str, param: torch.Tensor, module: nn.Module | None = None) -> bool:
        """Whether this rule matches parameter ``name`` (owned directly by ``module``)."""
        if self.match and not any(fnmatch.fnmatchcase(name, g) for g in self.match):
            return False
        if self.prefix and not any(name == p or name.startswith(p + ".") for p in self.prefix):
            return False
        if self.regex is not None and re.fullmatch(self.regex, name) is None:
            return False
        if self.module_type and not isinstance(module, self.module_type):
            return False
        return self.predicate is None or bool(self.predicate(name, param))

    def __repr__(self) -> str:
        args = []
        if self.match:
            args.append(repr(self.match[0] if len(self.match) == 1 else self.match))
        if self.prefix:
            args.append(f"prefix={self.prefix[0] if len(self.prefix) == 1 else self.prefix!r}")
        if self.regex is not None:
            args.append(f"regex={self.regex!r}")
        if self.module_type:
            names = ", ".join(t.__name__ for t in self.module_type)
            args.append(f"module_type={names}")
        if self.predicate is not None:
            args.append(f"predicate={getattr(self.predicate, '__name__', self.predicate)}")
        args += [f"{k}={v!r}" for k, v in self.hparams_items]
        return f"Rule({', '.join(args)})"


def _named_params(
    model: nn.Module, include_frozen: bool
) -> list[tuple[str, nn.Parameter, nn.Module]]:
    """(full name, parameter, owning module) for every parameter, shared ones once, model order."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    out = []
    for name, p in model.named_parameters():
        if p.requires_grad or include_frozen:
            owner = model.get_submodule(name.rpartition(".")[0])
            out.append((name, p, owner))
    return out


def _rest_hparams(rest) -> dict | None:
    if rest is False or rest is None:
        return None
    if rest is True:
        return {"name": "rest"}
    if isinstance(rest, Mapping):
        hp = dict(rest)
        hp.setdefault("name", "rest")
        return _check_hparams("rest", hp)
    raise TypeError(f"rest must be False, True or a dict of hyperparameters, got {rest!r}")


def _assign(
    entries, matchers: Sequence[tuple[str, Callable]], *, rest: dict | None, exclusive: bool
) -> tuple[list[list], list]:
    """Put each entry in the bucket of its first matcher; return (buckets, rest bucket)."""
    buckets: list[list] = [[] for _ in matchers]
    leftover, unmatched, overlaps = [], [], []
    for entry in entries:
        hits = [i for i, (_, fn) in enumerate(matchers) if fn(*entry)]
        if not hits:
            if rest is None:
                unmatched.append(entry[0])
            else:
                leftover.append(entry)
            continue
        if exclusive and len(hits) > 1:
            labels = ", ".join(f"{i} {matchers[i][0]!r}" for i in hits)
            overlaps.append(f"{entry[0]} (rules {labels})")
        buckets[hits[0]].append(entry)
    if unmatched:
        raise ValueError(
            f"{len(unmatched)} trainable parameter(s) matched no rule: {_list_names(unmatched)}. "
            "Add a rule for them, or pass rest=True (or rest={...hyperparameters...}) to put them "
            "in a 'rest' group."
        )
    if overlaps:
        raise ValueError(
            f"{len(overlaps)} parameter(s) matched more than one rule (exclusive=True): "
            f"{_list_names(overlaps)}"
        )
    return buckets, leftover


def split(
    model: nn.Module,
    rules: Sequence[Rule],
    *,
    rest: bool | Mapping = False,
    exclusive: bool = False,
    include_frozen: bool = False,
    allow_empty: bool = False,
) -> list[dict]:
    """Split a model's parameters into optimizer groups by ordered rules.

    Each parameter goes to the group of the **first** rule that matches it (see :class:`Rule`), so put
    specific rules before general ones. Group ``i`` is ``{"params": [...], "name": rules[i].name,
    **rules[i].hparams}``; the parameters keep the order of ``model.named_parameters()``.

    Args:
        model: the model; it is not modified.
        rules: the rules, tried in order.
        rest: ``False`` (default): a parameter that no rule matches is an error listing its name.
            ``True``: such parameters form a last group named ``"rest"`` that uses the optimizer's
            defaults. A dict: the hyperparameters of that last group (may set ``"name"``).
        exclusive: if ``True``, a parameter matched by two rules is an error instead of "first wins".
        include_frozen: also put parameters with ``requires_grad=False`` in their groups (they are not
            updated while frozen; see the module docstring).
        allow_empty: a rule that matches no parameter (often a typo) is an error unless this is
            ``True``, in which case its group is left out.

    Returns:
        A list of plain group dicts for ``torch.optim.X(groups, ...)``.

    Raises:
        ValueError: unmatched or (exclusive) doubly matched parameters, empty rules, duplicate names.

    Example:
        >>> model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
        >>> groups = split(model, [Rule(prefix="0", lr=0.1), Rule(prefix="1", lr=0.01)])
        >>> [(g["name"], g["lr"]) for g in groups]
        [('0', 0.1), ('1', 0.01)]
        >>> opt = torch.optim.SGD(groups, lr=0.05)
    """
    check_bool("exclusive", exclusive)
    check_bool("include_frozen", include_frozen)
    check_bool("allow_empty", allow_empty)
    rules = list(rules)
    for i, r in enumerate(rules):
        if not isinstance(r, Rule):
            raise TypeError(f"rules[{i}] must be a Rule, got {r!r}")
    rest_hp = _rest_hparams(rest)
    entries = _named_params(model, include_frozen)
    if not entries:
        raise ValueError(
            "the model has no trainable parameters (all are frozen?); pass include_frozen=True "
            "to group frozen ones"
        )
    matchers = [(r.name, r.matches) for r in rules]
    buckets, leftover = _assign(entries, matchers, rest=rest_hp, exclusive=exclusive)

    groups = []
    for i, (rule, bucket) in enumerate(zip(rules, buckets)):
        if not bucket:
            if allow_empty:
                continue
            tops = sorted({n.split(".")[0] for n, _, _ in entries})
            raise ValueError(
                f"rules[{i}] {rule!r} matched no parameter (or only parameters an earlier rule "
                f"already took); the model's parameters start with: {_list_names(tops)}. "
                "Pass allow_empty=True to skip empty rules."
            )
        groups.append({"params": [p for _, p, _ in bucket], "name": rule.name, **rule.hparams})
    if leftover and rest_hp is not None:  # _assign refuses a leftover without rest=
        groups.append({"params": [p for _, p, _ in leftover], **rest_hp})
    names = [g["name"] for g in groups]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"group names must be unique; pass name= to the rules, repeated: {dupes}")
    return groups


# --------------------------------------------------------------------------------------------------
# No weight decay for biases and normalisation weights
# --------------------------------------------------------------------------------------------------


def is_no_decay(name: str, param: torch.Tensor, module: nn.Module | None = None) -> bool:
    """Whether a parameter should get no weight decay: a bias, any 1-D tensor, or a norm layer's.

    Weight decay pulls weights towards 0 to limit the size of the function a layer computes. A bias
    or a normalisation layer's gain only shifts or rescales activations; decaying it towards 0 does
    not regularise, it only fights the normalisation (a LayerNorm gain of 0 switches the unit off).

    Example:
        >>> is_no_decay("fc.bias", torch.zeros(3)), is_no_decay("fc.weight", torch.zeros(3, 2))
        (True, False)
    """
    return (
        param.ndim <= 1
        or name == "bias"
        or name.endswith(".bias")
        or (module is not None and isinstance(module, NORM_TYPES))
    )


def _owner_map(model: nn.Module) -> dict[int, tuple[str, nn.Module]]:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return {
        id(p): (name, model.get_submodule(name.rpartition(".")[0]))
        for name, p in model.named_parameters()
    }


def split_no_decay(groups: Sequence[Mapping], model: nn.Module) -> list[dict]:
    """Split every group in two: parameters that get weight decay, and those that do not.

    For group ``g`` (named ``n``) the result has ``n/decay`` (``g``'s hyperparameters unchanged) and
    ``n/no_decay`` (same, with ``weight_decay=0.0``), decided by :func:`is_no_decay`; an empty half is
    left out. Composes with any grouping, e.g. ``split_no_decay(layerwise_lr(...), model)``.

    Args:
        groups: group dicts (from :func:`split`, :func:`layerwise_lr`, or by hand).
        model: the model the parameters belong to (to see which module owns each one).

    Example:
        >>> model = nn.Sequential(nn.Linear(2, 3), nn.LayerNorm(3))
        >>> [(g["name"], len(g["params"]), g["weight_decay"])
        ...  for g in split_no_decay([{"params": list(model.parameters()), "name": "all",
        ...                            "weight_decay": 0.1}], model)]
        [('all/decay', 1, 0.1), ('all/no_decay', 3, 0.0)]
    """
    owners = _owner_map(model)
    out = []
    for i, group in enumerate(groups):
        if not isinstance(group, Mapping) or "params" not in group:
            raise TypeError(f"groups[{i}] must be a dict with a 'params' list, got {group!r}")
        base = {k: v for k, v in group.items() if k != "params"}
        name = base.get("name", f"group{i}")
        decay: list[torch.Tensor] = []
        no_decay: list[torch.Tensor] = []
        for p in group["params"]:
            pname, owner = owners.get(id(p), ("", None))
            (no_decay if is_no_decay(pname, p, owner) else decay).append(p)
        if decay:
            out.append({**base, "params": decay, "name": f"{name}/decay"})
        if no_decay:
            out.append(
                {**base, "params": no_decay, "name": f"{name}/no_decay", "weight_decay": 0.0}
            )
    return out


def no_decay_groups(
    model: nn.Module,
    weight_decay: float,
    *,
    lr: float | None = None,
    include_frozen: bool = False,
    **hparams,
) -> list[dict]:
    """Two groups: ``"decay"`` (weights, with ``weight_decay``) and ``"no_decay"`` (biases, norms).

    The decay term :math:`\\lambda\\,\\theta` is applied only to matrices and kernels; biases, 1-D
    tensors and normalisation layers' parameters (:func:`is_no_decay`) get :math:`\\lambda = 0`.
    An empty group is left out.

    Args:
        model: the model (not modified).
        weight_decay: :math:`\\lambda` for the decay group (>= 0).
        lr: the learning rate of both groups; ``None`` leaves it to the optimizer's default.
        include_frozen: also group frozen parameters.
        **hparams: more hyperparameters for both groups (``momentum=0.9``, ...).

    Example:
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
        >>> [(g["name"], len(g["params"])) for g in no_decay_groups(model, 5e-4)]
        [('decay', 2), ('no_decay', 4)]
    """
    check_number("weight_decay", weight_decay, low=0.0)
    check_bool("include_frozen", include_frozen)
    hp = _check_hparams("no_decay_groups", hparams)
    if lr is not None:
        check_number("lr", lr, low=0.0)
        hp["lr"] = lr
    entries = _named_params(model, include_frozen)
    decay = [p for n, p, m in entries if not is_no_decay(n, p, m)]
    no_decay = [p for n, p, m in entries if is_no_decay(n, p, m)]
    groups = []
    if decay:
        groups.append({"params": decay, "name": "decay", **hp, "weight_decay": weight_decay})
    if no_decay:
        groups.append({"params": no_decay, "name": "no_decay", **hp, "weight_decay": 0.0})
    return groups


# --------------------------------------------------------------------------------------------------
# Layer-wise (discriminative) learning rates
# --------------------------------------------------------------------------------------------------


def discriminative_lrs(num_blocks: int, lr, decay: float | None = None) -> list[float]:
    """Learning rates for ``num_blocks`` blocks ordered input -> head.

    - ``lr`` a number :math:`\\gamma` and ``decay`` :math:`\\xi`: geometric decay from the head,
      :math:`\\gamma_i = \\gamma\\,\\xi^{\\,n-1-i}` for block :math:`i = 0, \\dots, n-1` (the head
      gets :math:`\\gamma`; :math:`\\gamma` is the learning rate as everywhere in the course,
      docs/notation.md).
    - ``lr=slice(lo, hi)`` (fastai's spacing): geometric spacing from ``lo`` (input) to ``hi``
      (head), :math:`\\gamma_i = \\text{lo}\\,(\\text{hi}/\\text{lo})^{i/(n-1)}`.
    - ``lr`` a sequence: explicit per-block rates, returned as a list.

    Example:
        >>> discriminative_lrs(3, 1e-2, decay=0.5)
        [0.0025, 0.005, 0.01]
        >>> [round(x, 10) for x in discriminative_lrs(3, slice(1e-4, 1e-2))]
        [0.0001, 0.001, 0.01]
    """
    n = check_int("num_blocks", num_blocks, low=1)
    if isinstance(lr, slice):
        if decay is not None:
            raise ValueError("decay must be None when lr is a slice(lo, hi)")
        if lr.step is not None:
            raise ValueError(f"lr slice must be slice(lo, hi) without a step, got {lr!r}")
        lo = check_number("lr.start (lo)", lr.start, low=0.0, low_inclusive=False)
        hi = check_number("lr.stop (hi)", lr.stop, low=float(lo))
        if n == 1:
            return [float(hi)]
        return [float(lo) * (float(hi) / float(lo)) ** (i / (n - 1)) for i in range(n)]
    if isinstance(lr, (list, tuple)):
        if decay is not None:
            raise ValueError("decay must be None when lr is a list of per-block rates")
        if len(lr) != n:
            raise ValueError(f"lr must have one rate per block ({n}), got {len(lr)}: {list(lr)}")
        return [float(check_number(f"lr[{i}]", v, low=0.0)) for i, v in enumerate(lr)]
    check_number("lr", lr, low=0.0)
    if decay is None:
        raise ValueError(
            "decay is required when lr is a number (e.g. decay=0.5); or pass lr=slice(lo, hi) "
            "or a list of per-block rates"
        )
    check_number("decay", decay, low=0.0, high=1.0, low_inclusive=False)
    return [float(lr) * float(decay) ** (n - 1 - i) for i in range(n)]


def _module_name(model: nn.Module, module: nn.Module) -> str:
    for name, m in model.named_modules():
        if m is module:
            return name
    raise ValueError(f"module {type(module).__name__} is not a submodule of the model")


def _block_prefixes(model: nn.Module, block) -> tuple[str, ...]:
    items = block if isinstance(block, (list, tuple)) else (block,)
    out = []
    for item in items:
        if isinstance(item, nn.Module):
            out.append(_module_name(model, item))
        elif isinstance(item, str) and item:
            out.append(item)
        else:
            raise TypeError(
                f"a block must be a module name, an nn.Module, or a tuple of those; got {item!r}"
            )
    return tuple(out)


def layerwise_lr(
    model: nn.Module,
    blocks: Sequence,
    lr,
    *,
    decay: float | None = None,
    rest: bool | Mapping = False,
    include_frozen: bool = False,
    **hparams,
) -> list[dict]:
    """One group per block with layer-wise (discriminative) learning rates, input -> head.

    Layers near the input learn general features that transfer; the head is task-specific. So the head
    gets the largest rate and each block below it a smaller one (rates from
    :func:`discriminative_lrs`: ``decay``, ``slice(lo, hi)``, or an explicit list).

    Args:
        model: the model (not modified).
        blocks: the blocks in order from input to head. A block is a module name (prefix such as
            ``"features.0"``; ``""`` is not allowed), an ``nn.Module`` of the model, or a tuple of those.
        lr: the head's rate with ``decay``, ``slice(lo, hi)``, or one rate per block.
        decay: :math:`\\xi` in (0, 1] when ``lr`` is a number (block :math:`i` gets
            :math:`\\gamma\\,\\xi^{\\,n-1-i}`).
        rest: what to do with parameters outside every block (see :func:`split`).
        include_frozen: also group frozen parameters (for gradual unfreezing).
        **hparams: hyperparameters shared by every block group (``weight_decay``, ``momentum``, ...).

    Example:
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.Linear(8, 2))
        >>> groups = layerwise_lr(model, ["0", "2", "3"], lr=0.1, decay=0.5)
        >>> [(g["name"], g["lr"]) for g in groups]
        [('0', 0.025), ('2', 0.05), ('3', 0.1)]
    """
    blocks = list(blocks)
    if not blocks:
        raise ValueError("blocks must name at least one block, got []")
    prefixes = [_block_prefixes(model, b) for b in blocks]
    lrs = discriminative_lrs(len(blocks), lr, decay)
    rules = [
        Rule(prefix=pre, name="+".join(p or "<model>" for p in pre), lr=rate, **hparams)
        for pre, rate in zip(prefixes, lrs)
    ]
    return split(model, rules, rest=rest, include_frozen=include_frozen)


# --------------------------------------------------------------------------------------------------
# Freezing
# --------------------------------------------------------------------------------------------------


def _resolve(model: nn.Module, targets) -> list[tuple[str, nn.Parameter]]:
    """The (name, parameter) pairs that ``targets`` designates in ``model``."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    named = list(model.named_parameters())
    if targets is None:
        return named
    if isinstance(targets, (str, nn.Module, torch.Tensor)):
        targets = [targets]
    chosen: dict[int, tuple[str, nn.Parameter]] = {}
    for t in targets:
        if isinstance(t, torch.Tensor):
            hits = [(n, p) for n, p in named if p is t]
            if not hits:
                raise ValueError("a parameter passed to freeze/unfreeze is not in the model")
        elif isinstance(t, nn.Module):
            name = _module_name(model, t)
            hits = [(n, p) for n, p in named if not name or n == name or n.startswith(name + ".")]
        elif isinstance(t, str):
            hits = [(n, p) for n, p in named if n == t or n.startswith(t + ".")]
            if not hits:
                tops = [n for n, _ in model.named_children()]
                raise ValueError(
                    f"no parameter is named {t!r} or lies under module {t!r}; "
                    f"the model's top-level modules are: {_list_names(tops)}"
                )
        else:
            raise TypeError(
                f"targets must be names, modules, parameters or a list of them, got {t!r}"
            )
        for n, p in hits:
            chosen[id(p)] = (n, p)
    return list(chosen.values())


def freeze(model: nn.Module, targets=None) -> list[str]:
    """Freeze parameters: ``requires_grad=False`` and ``.grad=None``; returns their names.

    Setting ``.grad`` to ``None`` matters: a torch optimizer skips a parameter whose gradient is
    ``None``, so momentum and weight decay stop moving it at once. With a stale zero gradient they
    would keep moving it (SGD momentum: :math:`\\theta \\leftarrow \\theta - \\gamma\\,\\mu\\,b`).

    Args:
        model: the model (modified in place).
        targets: ``None`` (whole model), a module name/prefix (``"features"``), an ``nn.Module`` of the
            model, a parameter, or a list of those.

    Example:
        >>> model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
        >>> freeze(model, "0")
        ['0.weight', '0.bias']
    """
    pairs = _resolve(model, targets)
    for _, p in pairs:
        p.requires_grad_(False)
        p.grad = None
    return [n for n, _ in pairs]


def unfreeze(model: nn.Module, targets=None) -> list[str]:
    """Unfreeze parameters (``requires_grad=True``); same ``targets`` as :func:`freeze`.

    The optimizer trains them only if it holds them: build its groups with ``include_frozen=True``
    (or add a group with ``optimizer.add_param_group``).

    Example:
        >>> model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
        >>> _ = freeze(model); unfreeze(model, model[1])
        ['1.weight', '1.bias']
    """
    pairs = _resolve(model, targets)
    for _, p in pairs:
        p.requires_grad_(True)
    return [n for n, _ in pairs]


class GradualUnfreezer:
    """ULMFiT's gradual unfreezing: the head trains first, one more block every ``every`` epochs.

    At epoch :math:`e` the last :math:`\\min(n,\\ \\text{start} + \\lfloor e/\\text{every} \\rfloor)`
    of the :math:`n` blocks (ordered input -> head) are trainable and the others frozen. Parameters
    outside the blocks are not touched. :meth:`step` sets that state exactly (it is idempotent, so a
    resumed run gets the same state); as a ``fit`` callback it runs at the start of every epoch.

    The optimizer must already hold the frozen parameters (groups built with
    ``include_frozen=True``); pass it as ``optimizer=`` to have that checked here.

    Args:
        model: the model.
        blocks: module names / modules (or tuples of them), input -> head, as for :func:`layerwise_lr`.
        every: epochs between two unfreezings (>= 1).
        start: blocks trainable at epoch 0 (>= 1; 1 means only the head).
        optimizer: optional; raises ``ValueError`` listing block parameters it does not hold.

    Example:
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 8), nn.Linear(8, 2))
        >>> unfreezer = GradualUnfreezer(model, ["0", "1", "2"], every=2)
        >>> [unfreezer.trainable_blocks(e) for e in (0, 2, 4)]
        [['2'], ['1', '2'], ['0', '1', '2']]
    """

    def __init__(
        self,
        model: nn.Module,
        blocks: Sequence,
        every: int = 1,
        *,
        start: int = 1,
        optimizer: torch.optim.Optimizer | None = None,
    ):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        blocks = list(blocks)
        if not blocks:
            raise ValueError("blocks must name at least one block, got []")
        self.model = model
        self.blocks = [_block_prefixes(model, b) for b in blocks]
        self.names = ["+".join(b) for b in self.blocks]
        self.every = check_int("every", every, low=1)
        self.start = check_int("start", start, low=1, high=len(blocks))
        for pre in self.blocks:
            _resolve(model, list(pre))  # unknown names fail here, not at epoch 3
        if optimizer is not None:
            held = {id(p) for g in optimizer.param_groups for p in g["params"]}
            missing = [
                n for pre in self.blocks for n, p in _resolve(model, list(pre)) if id(p) not in held
            ]
            if missing:
                raise ValueError(
                    f"the optimizer does not hold {len(missing)} parameter(s) that will be "
                    f"unfrozen: {_list_names(missing)}; build its groups with include_frozen=True"
                )

    def num_trainable(self, epoch: int) -> int:
        """How many blocks (counted from the head) are trainable at ``epoch``."""
        check_int("epoch", epoch, low=0)
        return min(len(self.blocks), self.start + epoch // self.every)

    def trainable_blocks(self, epoch: int) -> list[str]:
        """Names of the blocks trainable at ``epoch`` (input -> head order)."""
        return self.names[len(self.blocks) - self.num_trainable(epoch) :]

    def step(self, epoch: int) -> list[str]:
        """Freeze/unfreeze the blocks for ``epoch``; return the names of blocks newly unfrozen."""
        k = len(self.blocks) - self.num_trainable(epoch)
        newly = []
        for i, pre in enumerate(self.blocks):
            pairs = _resolve(self.model, list(pre))
            if i < k:
                freeze(self.model, [p for _, p in pairs])
            else:
                if not all(p.requires_grad for _, p in pairs):
                    newly.append(self.names[i])
                unfreeze(self.model, [p for _, p in pairs])
        return newly

    def on_epoch_start(self, state) -> None:
        """``fit`` callback hook: apply the state for ``state.epoch``."""
        self.step(state.epoch)


# --------------------------------------------------------------------------------------------------
# describe
# --------------------------------------------------------------------------------------------------

_HIDDEN = {"params", "param_names", "name", "foreach", "fused", "capturable", "differentiable"}
_FIRST = ("lr", "weight_decay", "momentum", "betas")


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Real):
        v = float(value)
        if v == 0 or not math.isfinite(v):
            return f"{v:g}"
        return f"{v:.4g}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_fmt(v) for v in value) + ")"
    return str(value)


class GroupTable:
    """A table of parameter groups: ``str()`` for the terminal, ``_repr_html_`` for notebooks.

    Attributes:
        columns: column titles.
        rows: one tuple of cell strings per group.
        notes: lines printed under the table (totals, parameters outside every group).
    """

    def __init__(self, columns: list[str], rows: list[tuple[str, ...]], notes: list[str]):
        self.columns, self.rows, self.notes = columns, rows, notes

    def __str__(self) -> str:
        widths = [max(len(c), *(len(r[i]) for r in self.rows)) for i, c in enumerate(self.columns)]

        def line(cells):
            return "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
            ).rstrip()

        out = [line(self.columns), "  ".join("-" * w for w in widths)]
        out += [line(r) for r in self.rows]
        return "\n".join(out + self.notes)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        esc = html.escape
        head = "".join(f"<th>{esc(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in self.rows
        )
        notes = "".join(f"<p>{esc(n)}</p>" for n in self.notes)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{notes}"


def describe(optimizer_or_groups, model: nn.Module | None = None) -> GroupTable:
    """A readable table of parameter groups: name, tensors, parameters, frozen, lr, weight decay, ...

    Columns: the group's ``name`` (or its index), the number of tensors and of scalar parameters,
    how many tensors are frozen, then ``lr``, ``weight_decay``, ``momentum``, ``betas`` and any other
    hyperparameter some group has (implementation flags such as ``foreach`` are hidden). With
    ``model``, the notes also count the model's trainable parameters and list those in no group (they
    would never be trained).

    Args:
        optimizer_or_groups: a ``torch.optim.Optimizer`` or a list of group dicts.
        model: optional, to check coverage and show parameter names.

    Example:
        >>> model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
        >>> opt = torch.optim.SGD(split(model, [Rule(prefix="0", lr=0.1)], rest=True), lr=0.01)
        >>> print(describe(opt))
        group  tensors  parameters  frozen    lr  weight_decay  momentum  dampening  nesterov
        -----  -------  ----------  ------  ----  ------------  --------  ---------  --------
        0            2           9       0   0.1             0         0          0     False
        rest         2           4       0  0.01             0         0          0     False
        total: 4 tensors, 13 parameters in 2 groups
    """
    groups = _groups_of(optimizer_or_groups)
    keys = _hparam_columns(groups)
    rows, total_t, total_n = [], 0, 0
    for i, g in enumerate(groups):
        params = list(g["params"])
        numel = sum(p.numel() for p in params)
        frozen = sum(not p.requires_grad for p in params)
        total_t += len(params)
        total_n += numel
        cells = [str(g.get("name", i)), str(len(params)), f"{numel:,}", str(frozen)]
        cells += [_fmt(g[k]) if k in g else "default" for k in keys]
        rows.append(tuple(cells))
    notes = [f"total: {total_t} tensors, {total_n:,} parameters in {len(groups)} groups"]
    if model is not None:
        notes += _coverage_notes(groups, model)
    return GroupTable(["group", "tensors", "parameters", "frozen", *keys], rows, notes)


def _groups_of(optimizer_or_groups) -> list:
    """The param groups of an optimizer, or a list of group dicts, checked."""
    if isinstance(optimizer_or_groups, torch.optim.Optimizer):
        groups = optimizer_or_groups.param_groups
    elif isinstance(optimizer_or_groups, (list, tuple)):
        groups = list(optimizer_or_groups)
    else:
        raise TypeError(
            "describe needs an optimizer or a list of group dicts, got "
            f"{type(optimizer_or_groups).__name__}"
        )
    for i, g in enumerate(groups):
        if not isinstance(g, Mapping) or "params" not in g:
            raise TypeError(f"group {i} must be a dict with a 'params' list, got {g!r}")
    return groups


def _hparam_columns(groups) -> list[str]:
    """The hyperparameter columns: the usual ones first, then any other that a group has."""
    keys = [k for k in _FIRST if any(k in g for g in groups)]
    for g in groups:
        keys += [k for k in g if k not in _HIDDEN and k not in keys]
    if not any(g.get("maximize") for g in groups) and "maximize" in keys:
        keys.remove("maximize")  # show the flag only when some group maximizes
    return keys


def _coverage_notes(groups, model: nn.Module) -> list[str]:
    """The model's trainable parameters, and a warning naming those that are in no group."""
    held = {id(p) for g in groups for p in g["params"]}
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    outside = [n for n, p in trainable if id(p) not in held]
    n_model = sum(p.numel() for _, p in trainable)
    notes = [f"model: {len(trainable)} trainable tensors, {n_model:,} parameters"]
    if outside:
        notes.append(
            f"WARNING: {len(outside)} trainable tensor(s) in no group (never updated): "
            f"{_list_names(outside)}"
        )
    else:
        notes.append("every trainable parameter is in a group")
    return notes
