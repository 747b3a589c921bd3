"""Fine-tuning strategies for the shipped CNN backbone on the shifted target task (notebook 07).

The backbone (``course_lib/assets/backbone_cnn.pt``, :func:`course_lib.models.pretrained_cnn`) learned
:math:`\\phi_\\theta` (``model.features``) on the source task; the target task
(:func:`course_lib.data.transfer_target`) has the same ten classes, digits stretched in time, and only a
few labelled examples. A strategy decides where :math:`\\theta` starts, which parameters train and at
which peak rate. The head :math:`W` (``model.classifier``) is always fresh, initialised by the seed,
and gets the head rate :math:`\\gamma_h` (``lr``); the backbone gets :math:`\\gamma_b` (``backbone_lr``,
default :math:`\\gamma_h / 10`):

==================  ===================================================================================
scratch             random :math:`\\theta`, every parameter at :math:`\\gamma_h` (no transfer: the baseline)
feature_extraction  pretrained :math:`\\theta` frozen; only the head trains (at :math:`\\gamma_h`)
uniform             pretrained, every parameter at :math:`\\gamma_h` (one rate for all)
uniform_low         pretrained, every parameter at :math:`\\gamma_b`
differential        pretrained, backbone at :math:`\\gamma_b`, head at :math:`\\gamma_h` (discriminative rates)
gradual             ULMFiT's gradual unfreezing with differential rates: the head alone in epoch 0,
                    then one more block (block3, block2, block1) at the start of each epoch
gradual_slow        as gradual, one more block every ``max(1, epochs // 4)`` epochs
==================  ===================================================================================

Everything else is identical across strategies, so the comparison isolates the strategy:
:class:`course_lib.optim.AdamW` without weight decay over the strategy's groups
(:meth:`Strategy.optimizer`), :class:`course_lib.schedulers.OneCycleLR` stepped per batch with each
group peaking at its own rate (:meth:`Strategy.scheduler`), one
:func:`course_lib.training.train_step` per batch, batch size, epochs, circular-shift augmentation,
and the same seed for the head, the batch order and the labelled subset.
``benchmarks/bench_transfer.py`` runs the longer comparison.

The same strategies transfer across datasets with the 2-D backbone
(``course_lib/assets/backbone_cnn2d.pt``, a :class:`course_lib.models.CNN2d` pretrained on the MNIST
digits): pass ``path=BACKBONE2D_PT`` and ``data=functools.partial(digits_target, per_class)``
(scikit-learn's digits, a few labels per class, resized to the backbone's 16x16 input) to
:func:`run_strategy` or :func:`tune_strategies`, with ``max_shift=0`` (the circular shift is for 1-D
signals); gradual unfreezing then releases ``block2`` and ``block1`` (:func:`blocks_of`).

    >>> m = run_strategy("feature_extraction", seed=0, epochs=2)
    >>> sorted(m)
    ['cpu_s', 'diverged', 'feature_cka', 'test_acc', 'train_loss', 'weight_drift']
"""

from __future__ import annotations

import copy
import functools
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import torch

from course_lib._validation import check_bool, check_choice, check_int, check_nonempty, check_number
from course_lib.compare import (
    Comparison,
    Table,
    difference,
    holdout,
    paired_difference,
    run_grid,
    tune_and_compare,
)
from course_lib.data import TRANSFER_TARGET_N_TRAIN, Split, digits_images, transfer_target
from course_lib.models import BACKBONE2D_PT, CNN, CNN2d, backbone_info, load_backbone
from course_lib.optim import AdamW
from course_lib.param_groups import GradualUnfreezer, Rule, freeze, split
from course_lib.pretrain import random_roll
from course_lib.schedulers import OneCycleLR
from course_lib.training import correct, evaluate, train_step

__all__ = [
    "BLOCKS",
    "DEFAULTS",
    "DESCRIPTIONS",
    "STRATEGIES",
    "FineTuneResult",
    "Strategy",
    "blocks_of",
    "build_strategy",
    "compare_strategies",
    "digits_target",
    "drift",
    "fine_tune",
    "interval_rows",
    "interval_text",
    "run_strategy",
    "scan_backbone_lr",
    "tune_strategies",
]

#: The strategies, in the order the notebook and the benchmark print them.
STRATEGIES: tuple[str, ...] = (
    "scratch",
    "feature_extraction",
    "uniform",
    "uniform_low",
    "differential",
    "gradual",
    "gradual_slow",
)

#: One line per strategy (for tables and widgets).
DESCRIPTIONS: dict[str, str] = {
    "scratch": "random backbone, all parameters at the head rate",
    "feature_extraction": "pretrained backbone frozen, only the head trains",
    "uniform": "pretrained, all parameters at the head rate",
    "uniform_low": "pretrained, all parameters at the backbone rate",
    "differential": "pretrained, backbone at the low rate, head at the high rate",
    "gradual": "differential rates, one more block unfrozen every epoch (head first)",
    "gradual_slow": "differential rates, one more block unfrozen every epochs // 4 epochs",
}

#: The blocks of the CNN from input to head, as gradual unfreezing releases them (head first).
BLOCKS: tuple[str, ...] = ("features.block1", "features.block2", "features.block3", "classifier")

#: Default fine-tuning settings (measured in ``benchmarks/bench_transfer.py``).
DEFAULTS: dict = {
    "n_train": TRANSFER_TARGET_N_TRAIN,
    "epochs": 30,
    "batch_size": 32,
    "lr": 1e-2,
    "backbone_lr_factor": 0.1,
    "max_shift": 10,
}


@dataclass
class Strategy:
    """A model ready to fine-tune: its parameter groups (peak rates) and the per-epoch hook.

    Attributes:
        name: the strategy's name (one of :data:`STRATEGIES`, or ``"custom"``).
        model: the CNN, or the CNN2d of a 2-D backbone (backbone loaded unless
            ``name == "scratch"``; fresh head).
        groups: optimizer parameter groups, each with ``"name"`` and its peak ``"lr"``; frozen
            parameters that will be unfrozen later are in them already.
        unfreezer: a :class:`course_lib.param_groups.GradualUnfreezer` (gradual strategies only).
    """

    name: str
    model: CNN | CNN2d
    groups: list[dict]
    unfreezer: GradualUnfreezer | None = None

    def on_epoch_start(self, epoch: int) -> None:
        """Hook called before each epoch: apply the unfreezing state of ``epoch`` (if any)."""
        if self.unfreezer is not None:
            self.unfreezer.step(epoch)

    def trainable(self) -> int:
        """Number of scalar parameters that currently have ``requires_grad=True``."""
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    def optimizer(self) -> AdamW:
        """:class:`course_lib.optim.AdamW` over copies of :attr:`groups`, without weight decay.

        The groups are copied, so a scheduler changing the optimizer's rates leaves the peak rates
        in :attr:`groups` as they are.

        Example:
            >>> opt = build_strategy("differential").optimizer()
            >>> [(g["name"], g["lr"], g["weight_decay"]) for g in opt.param_groups]
            [('backbone', 0.001, 0.0), ('head', 0.01, 0.0)]
        """
        peak = max(g["lr"] for g in self.groups)
        return AdamW([dict(g) for g in self.groups], lr=peak, weight_decay=0.0)

    def scheduler(self, optimizer: AdamW, total_steps: int) -> OneCycleLR:
        """:class:`course_lib.schedulers.OneCycleLR` over ``total_steps`` batches, with its defaults.

        Group :math:`g` peaks at its own rate :math:`\\gamma_g` (its ``lr`` in :attr:`groups`), so
        the ratio between the groups' rates holds at every step; ``beta1`` cycles from 0.95 down to
        0.85 and back.

        Example:
            >>> s = build_strategy("differential")
            >>> sched = s.scheduler(s.optimizer(), total_steps=100)
            >>> sched.max_lrs
            [0.001, 0.01]
        """
        return OneCycleLR(optimizer, max_lr=[g["lr"] for g in self.groups], total_steps=total_steps)


def _model(seed: int, pretrained: bool, path) -> CNN | CNN2d:
    """The backbone's architecture (``CNN``, or ``CNN2d`` for a 2-D backbone), seeded, loaded."""
    info = backbone_info(path)
    kind = CNN2d if info.get("architecture") == "cnn2d" else CNN
    model = kind(seed=seed, **info["model"])  # same head initialisation with or without transfer
    return load_backbone(model, path) if pretrained else model


def blocks_of(model: torch.nn.Module) -> tuple[str, ...]:
    """The model's blocks from input to head, as gradual unfreezing releases them (head first).

    Every ``features.blockK`` then ``classifier``: :data:`BLOCKS` for the 1-D :class:`CNN`, two
    blocks and the head for the 2-D backbone's :class:`course_lib.models.CNN2d`.

    Example:
        >>> blocks_of(CNN2d(16, channels=(16, 32)))
        ('features.block1', 'features.block2', 'classifier')
    """
    features = getattr(model, "features", None)
    if not isinstance(features, torch.nn.Module):
        raise TypeError(f"model must have a `features` module (a CNN), got {type(model).__name__}")
    return (*(f"features.{n}" for n, _ in features.named_children()), "classifier")


def _groups(name: str, model: CNN | CNN2d, lr: float, backbone_lr: float) -> list[dict]:
    """The parameter groups of strategy ``name``; freezes the backbone where the strategy does."""
    if name in ("scratch", "uniform", "uniform_low"):
        rate = backbone_lr if name == "uniform_low" else lr
        return [{"params": list(model.parameters()), "name": "all", "lr": rate}]
    if name == "feature_extraction":
        freeze(model, "features")
        return split(model, [Rule(prefix="classifier", name="head", lr=lr)])
    gradual = name in ("gradual", "gradual_slow")
    if gradual:
        freeze(model, "features")
    rules = [
        Rule(prefix="features", name="backbone", lr=backbone_lr),
        Rule(prefix="classifier", name="head", lr=lr),
    ]
    return split(model, rules, include_frozen=gradual)


def _unfreezer(name: str, model: CNN | CNN2d, epochs: int) -> GradualUnfreezer | None:
    """Gradual strategies: one more block every epoch (``gradual``) or every ``epochs // n_blocks``."""
    if name not in ("gradual", "gradual_slow"):
        return None
    blocks = blocks_of(model)
    every = 1 if name == "gradual" else max(1, epochs // len(blocks))
    return GradualUnfreezer(model, blocks, every=every)


def build_strategy(
    name: str,
    seed: int = 0,
    *,
    lr: float = DEFAULTS["lr"],
    backbone_lr: float | None = None,
    epochs: int = DEFAULTS["epochs"],
    path=None,
) -> Strategy:
    """Build the model and parameter groups of one strategy (see the module docstring).

    Args:
        name: one of :data:`STRATEGIES`.
        seed: initialises the head (and, for ``"scratch"``, the backbone).
        lr: the head rate :math:`\\gamma_h` (peak of the one-cycle schedule), > 0.
        backbone_lr: :math:`\\gamma_b`, > 0; default ``lr * 0.1``.
        epochs: the training length (only ``gradual_slow`` uses it, for its unfreezing period).
        path: the backbone ``.pt`` (default: the shipped 1-D one); with
            :data:`course_lib.models.BACKBONE2D_PT` the model is the 2-D backbone's ``CNN2d``.

    Example:
        >>> s = build_strategy("differential", seed=0, lr=1e-2)
        >>> [(g["name"], g["lr"]) for g in s.groups]
        [('backbone', 0.001), ('head', 0.01)]
    """
    check_choice("name", name, STRATEGIES)
    check_int("seed", seed, low=0)
    check_number("lr", lr, low=0.0, low_inclusive=False)
    if backbone_lr is None:
        backbone_lr = lr * DEFAULTS["backbone_lr_factor"]
    check_number("backbone_lr", backbone_lr, low=0.0, low_inclusive=False)
    check_int("epochs", epochs, low=1)
    model = _model(seed, pretrained=name != "scratch", path=path)
    groups = _groups(name, model, float(lr), float(backbone_lr))
    return Strategy(name, model, groups, _unfreezer(name, model, epochs))


@dataclass(frozen=True)
class FineTuneResult:
    """What one fine-tuning run measured.

    Attributes:
        test_acc: final test accuracy.
        train_loss: mean training loss of each epoch.
        test_acc_per_epoch: test accuracy before each epoch and after the last (``epochs + 1``
            values) when tracked, else empty.
        cpu_s: CPU seconds of training.
        diverged: a training loss was not finite.
        diverged_epoch: the first epoch with a non-finite loss (``None`` if none).
    """

    test_acc: float
    train_loss: list[float]
    cpu_s: float
    diverged: bool
    diverged_epoch: int | None = None
    test_acc_per_epoch: list[float] = field(default_factory=list)

    @classmethod
    def from_run(
        cls, losses: list[float], test_acc: float, cpu_s: float, per_epoch: Sequence[float] = ()
    ) -> FineTuneResult:
        """Collect a run: the mean loss of each epoch, the final accuracy, the tracked ones."""
        bad = [e for e, v in enumerate(losses) if not math.isfinite(v)]
        return cls(
            test_acc=test_acc,
            train_loss=losses,
            cpu_s=cpu_s,
            diverged=bool(bad),
            diverged_epoch=bad[0] if bad else None,
            test_acc_per_epoch=[*per_epoch, test_acc] if per_epoch else [],
        )


def _accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy on ``(x, y)`` by :func:`course_lib.training.evaluate`, in batches of 1000."""
    batches = zip(x.split(1000), y.split(1000))
    return evaluate(model, batches, loss_fn=None, metrics={"accuracy": correct})["accuracy"]


def _epoch(
    strategy: Strategy,
    optimizer: AdamW,
    scheduler: OneCycleLR,
    data: Split,
    generator: torch.Generator,
    batch_size: int,
    max_shift: int,
) -> float:
    """One pass over ``data``'s training set in a random order; the mean training loss."""
    n = len(data.y_train)
    total = 0.0
    for idx in torch.randperm(n, generator=generator).split(batch_size):
        x = random_roll(data.x_train[idx], max_shift, generator)
        # check_finite=False: a non-finite loss still steps, as before (reported as diverged)
        step = train_step(strategy.model, optimizer, x, data.y_train[idx], check_finite=False)
        total += step.loss * len(idx)
        scheduler.step()
    return total / n


def _total_steps(n: int, epochs: int, batch_size: int) -> int:
    """Optimizer steps of a run; one-cycle's warm-up (30 % of them) must last a step: >= 4."""
    steps = epochs * math.ceil(n / batch_size)
    if steps < 4:
        raise ValueError(
            f"epochs * ceil(n_train / batch_size) must be >= 4 (the one-cycle warm-up takes 30 % "
            f"of the steps and needs one), got {epochs} * ceil({n} / {batch_size}) = {steps}: "
            "use more epochs or a smaller batch_size"
        )
    return steps


def _train(strategy: Strategy, data: Split, on_epoch_start, *, seed, epochs, batch_size, max_shift):
    """``epochs`` passes of :func:`_epoch` with one optimizer and one schedule; losses per epoch."""
    optimizer = strategy.optimizer()
    scheduler = strategy.scheduler(optimizer, _total_steps(len(data.y_train), epochs, batch_size))
    generator = torch.Generator().manual_seed(seed)  # batch order and shifts: the seed alone
    strategy.model.train()
    losses = []
    for epoch in range(epochs):
        on_epoch_start(epoch)
        losses.append(
            _epoch(strategy, optimizer, scheduler, data, generator, batch_size, max_shift)
        )
    return losses


def fine_tune(
    strategy: Strategy,
    data: Split,
    *,
    seed: int = 0,
    epochs: int = DEFAULTS["epochs"],
    batch_size: int = DEFAULTS["batch_size"],
    max_shift: int = DEFAULTS["max_shift"],
    track_test: bool = False,
) -> FineTuneResult:
    """Train a :class:`Strategy` on ``data``: one :func:`course_lib.training.train_step` per batch.

    AdamW (no weight decay, :meth:`Strategy.optimizer`) with one-cycle rates stepped per batch
    (:meth:`Strategy.scheduler`), group :math:`g` peaking at its own ``lr``; per batch :math:`B`
    of cross-entropy :math:`L_B`, :math:`\\theta \\leftarrow \\text{AdamW}(\\theta, \\nabla L_B)` for the
    trainable parameters only (a frozen parameter has no gradient and is skipped). The batch order
    and the circular shifts (:func:`course_lib.pretrain.random_roll`, up to ``max_shift``) come
    from one generator seeded with ``seed``; the global RNG is left as it was. A non-finite
    training loss is reported (``diverged``), never raised.

    Args:
        strategy: from :func:`build_strategy` (trained in place).
        data: the target task split.
        seed: batch order and augmentation shifts.
        epochs, batch_size, max_shift: passes, examples per batch, shift range (0: none).
        track_test: also measure the test accuracy at the start of every epoch (for curves).
    """
    if not isinstance(strategy, Strategy):
        raise TypeError(
            f"strategy must be a Strategy (build_strategy), got {type(strategy).__name__}"
        )
    settings = {"seed": seed, "epochs": epochs, "batch_size": batch_size, "max_shift": max_shift}
    for key, value in settings.items():
        check_int(key, value, low=1 if key in ("epochs", "batch_size") else 0)
    check_bool("track_test", track_test)
    accs: list[float] = []

    def on_epoch_start(epoch: int) -> None:
        strategy.on_epoch_start(epoch)
        if track_test:  # evaluation changes no RNG state and no parameter
            accs.append(_accuracy(strategy.model, data.x_test, data.y_test))

    cpu0 = time.process_time()
    with torch.random.fork_rng(devices=[]):
        losses = _train(strategy, data, on_epoch_start, **settings)
    cpu_s = time.process_time() - cpu0
    return FineTuneResult.from_run(
        losses, _accuracy(strategy.model, data.x_test, data.y_test), cpu_s, accs
    )


def run_strategy(
    name: str,
    seed: int = 0,
    *,
    data: Split | Callable[[int], Split] | None = None,
    n_train: int = DEFAULTS["n_train"],
    epochs: int = DEFAULTS["epochs"],
    batch_size: int = DEFAULTS["batch_size"],
    lr: float = DEFAULTS["lr"],
    backbone_lr: float | None = None,
    max_shift: int = DEFAULTS["max_shift"],
    val_fraction: float | None = None,
    path=None,
) -> dict[str, float]:
    """Run one strategy with one seed on the target task; return its metrics.

    Args:
        name: one of :data:`STRATEGIES`.
        seed: the head's initialisation, the batch order, the augmentation and (when ``data`` is
            ``None``) which ``n_train`` target examples are labelled.
        data: the split to train on, or a function ``data(seed) -> Split`` (e.g.
            :func:`digits_target` with its ``per_class`` bound); default
            ``transfer_target(n_train, seed=seed)``.
        n_train: labelled target examples when ``data`` is ``None``.
        epochs, batch_size, max_shift, lr, backbone_lr: see :data:`DEFAULTS`, :func:`fine_tune`
            and :func:`build_strategy`.
        val_fraction: when given, :func:`course_lib.compare.holdout` moves this share of the
            training examples (chosen with ``seed``) to a validation set: the run trains on the rest
            and also reports ``val_acc``, the metric to tune on (the test set stays untouched).
        path: the backbone ``.pt`` (default: the shipped one).

    Returns:
        ``{"test_acc", "train_loss" (last epoch), "cpu_s", "diverged" (1.0 or 0.0), "weight_drift",
        "feature_cka"}`` (plus ``"val_acc"`` with ``val_fraction``), all floats, as
        :func:`course_lib.compare.run_grid` expects. The drifts measure how far training moved the
        backbone from where it started (see :func:`drift`).

    Example:
        >>> m = run_strategy("differential", seed=0, epochs=1, val_fraction=0.25)
        >>> sorted(m)
        ['cpu_s', 'diverged', 'feature_cka', 'test_acc', 'train_loss', 'val_acc', 'weight_drift']
    """
    check_choice("name", name, STRATEGIES)
    check_int("seed", seed, low=0)
    if data is None:
        data = transfer_target(n_train, seed=seed)
    elif callable(data):
        data = data(seed)
    val = None
    if val_fraction is not None:
        data, val = holdout(data, val_fraction, seed=seed)
    strategy = build_strategy(name, seed, lr=lr, backbone_lr=backbone_lr, epochs=epochs, path=path)
    start = copy.deepcopy(strategy.model.features)
    r = fine_tune(
        strategy, data, seed=seed, epochs=epochs, batch_size=batch_size, max_shift=max_shift
    )
    out = {"test_acc": r.test_acc, "train_loss": r.train_loss[-1], "cpu_s": r.cpu_s}
    out |= {"diverged": float(r.diverged), **drift(start, strategy.model.features, data.x_test)}
    if val is not None:
        out["val_acc"] = _accuracy(strategy.model, *val)
    return out


def drift(before: torch.nn.Module, after: torch.nn.Module, x: torch.Tensor) -> dict[str, float]:
    """How far fine-tuning moved a backbone: in its weights, and in the features it computes.

    With :math:`\\theta_0` the backbone's starting weights, :math:`\\theta` the trained ones, and
    :math:`F_0 = \\phi_{\\theta_0}(X)`, :math:`F = \\phi_\\theta(X)` the flattened feature maps of the
    inputs (one row per example, each column centred over the examples),

    .. math::

        \\text{weight drift} = \\frac{\\lVert \\theta - \\theta_0 \\rVert}{\\lVert \\theta_0 \\rVert},
        \\qquad
        \\text{CKA} = \\frac{\\lVert F^\\top F_0 \\rVert_F^2}
        {\\lVert F_0^\\top F_0 \\rVert_F \\, \\lVert F^\\top F \\rVert_F}

    The weight drift is 0 for an untouched backbone. Linear CKA (Kornblith, Norouzi, Lee & Hinton
    2019, *Similarity of Neural Network Representations Revisited*) compares what the two feature
    maps say about the examples, ignoring rotations and scale: 1 for the same representation, near
    0 when the new features have little in common with the old ones.

    Args:
        before, after: two copies of the same backbone module (``model.features``).
        x: inputs ``(n, length)`` or ``(n, 1, length)``, e.g. the target task's test signals.

    Returns:
        ``{"weight_drift": ..., "feature_cka": ...}``; the CKA is 0 when a feature map is
        constant over the examples (e.g. every ReLU dead): then it carries nothing of the other.

    Example:
        >>> from course_lib.models import pretrained_cnn
        >>> f = pretrained_cnn().features
        >>> d = drift(f, f, torch.randn(50, 40))
        >>> d["weight_drift"], round(d["feature_cka"], 6)
        (0.0, 1.0)
    """
    if x.dim() == 2:
        x = x.unsqueeze(1)  # (n, length) -> (n, 1, length), as CNN.forward does
    with torch.no_grad():
        w0, w1 = _flat_weights(before), _flat_weights(after)
        cka = _linear_cka(_features(before, x), _features(after, x))
    return {"weight_drift": float((w1 - w0).norm() / w0.norm()), "feature_cka": cka}


def _flat_weights(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def _features(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module(x)`` in eval mode, one float64 row per example; the mode is restored."""
    mode = module.training
    module.eval()
    f = module(x).flatten(1).double()
    module.train(mode)
    return f


def _linear_cka(f0: torch.Tensor, f1: torch.Tensor) -> float:
    """Linear CKA of two feature matrices (see :func:`drift`); 0 when one is constant."""
    f0, f1 = f0 - f0.mean(0), f1 - f1.mean(0)
    denom = (f0.T @ f0).norm() * (f1.T @ f1).norm()
    return float((f1.T @ f0).norm() ** 2 / denom) if denom > 0 else 0.0


@functools.lru_cache(maxsize=4)
def _digits(size: int) -> Split:
    return digits_images(size)


def digits_target(per_class: int = 10, seed: int = 0, *, size: int | None = None) -> Split:
    """The cross-dataset target task: scikit-learn's digits, ``per_class`` labelled images per class.

    The images of :func:`course_lib.data.digits_images` (another scanner, 8x8 pixels, other writers)
    resized to ``size`` (default: the 2-D backbone's input side,
    ``backbone_info(BACKBONE2D_PT)["model"]["in_size"]``). From its 1,347 training images, ``seed``
    draws ``per_class`` of each digit (the labelled examples); the 450 test images are always the
    same, so the seeds differ in which few labels a learner has, not in the exam.

    Args:
        per_class: labelled images per class, in [1, 100].
        seed: which images are labelled (and their order).
        size: side of the images, in [8, 64].

    Example:
        >>> digits_target(5, seed=0)
        Split(train=(50, 1, 16, 16), test=(450, 1, 16, 16), classes=10)
    """
    check_int("per_class", per_class, low=1, high=100)
    check_int("seed", seed, low=0)
    if size is None:
        size = int(backbone_info(BACKBONE2D_PT)["model"]["in_size"])
    check_int("size", size, low=8, high=64)
    full = _digits(size)
    g = torch.Generator().manual_seed(seed)
    picks = [
        torch.nonzero(full.y_train == c).flatten()[
            torch.randperm(int((full.y_train == c).sum()), generator=g)[:per_class]
        ]
        for c in range(full.num_classes)
    ]
    idx = torch.cat(picks)[torch.randperm(per_class * full.num_classes, generator=g)]
    return Split(full.x_train[idx], full.y_train[idx], full.x_test, full.y_test)


def _check_names(names) -> list[str]:
    """A non-empty list of strategy names, each one of :data:`STRATEGIES`."""
    names = check_nonempty("names", names)
    for i, n in enumerate(names):
        check_choice(f"names[{i}]", n, STRATEGIES)
    return names


def compare_strategies(
    names: Sequence[str] = STRATEGIES,
    seeds: Iterable[int] = (0, 1, 2),
    *,
    progress: bool = False,
    **kwargs,
) -> Table:
    """Every strategy with every seed (:func:`course_lib.compare.run_grid` over :func:`run_strategy`).

    Args:
        names: strategies to run.
        seeds: distinct seeds, the same for every strategy.
        progress: show a progress bar.
        **kwargs: passed to :func:`run_strategy` (``epochs``, ``lr``, ``n_train``, ...).

    Returns:
        A :class:`course_lib.compare.Table`; ``.summary()`` gives mean ± std per strategy.

    Example:
        >>> t = compare_strategies(["feature_extraction"], seeds=[0], epochs=1)
        >>> t.configs
        ['feature_extraction']
    """
    names = _check_names(names)
    configs = {n: functools.partial(run_strategy, n, **kwargs) for n in names}
    return run_grid(configs, seeds, progress=progress)


def _run_at(name: str, lr: float, seed: int, **kwargs) -> dict[str, float]:
    """``run(lr, seed)`` for :func:`course_lib.compare.tune_and_compare` (picklable via partial)."""
    return run_strategy(name, seed, lr=lr, **kwargs)


def _grids(names: list[str], lrs: Sequence[float] | Mapping[str, Sequence[float]]) -> dict:
    """One grid of candidate rates per strategy: ``lrs`` for each, or ``lrs[name]``."""
    if not isinstance(lrs, Mapping):
        return {n: list(lrs) for n in names}
    if set(lrs) != set(names):
        raise ValueError(f"lrs must have one grid per strategy {names}, got {sorted(lrs)}")
    return {n: list(lrs[n]) for n in names}


def tune_strategies(
    names: Sequence[str],
    lrs: Sequence[float] | Mapping[str, Sequence[float]],
    seeds: Iterable[int],
    *,
    val_fraction: float = 0.25,
    progress: bool = False,
    **kwargs,
) -> Comparison:
    """Tune each strategy's head rate on a validation split, then compare them at their tuned rates.

    Every strategy gets the same number of candidate rates (its ``lr``: the head rate
    :math:`\\gamma_h`, with :math:`\\gamma_b = \\gamma_h / 10` where the strategy has a backbone
    rate) and the same seeds. Each run holds out ``val_fraction`` of the labelled examples (drawn
    with the seed, the same for every strategy) and trains on the rest; the rate with the best mean
    ``val_acc`` over the seeds wins (:func:`course_lib.compare.tune_and_compare`). The comparison
    then reads the test accuracy of those same runs: the test set plays no part in the choice, and
    no run is trained twice.

    Args:
        names: strategies (see :data:`STRATEGIES`).
        lrs: candidate head rates, the same for every strategy, or a dict ``name -> rates``
            (one grid per strategy, all of the same size: an equal tuning budget).
        seeds: tuning and evaluation seeds (the runs are paired on them).
        val_fraction: share of the labelled examples held out for validation, in (0, 1).
        progress: progress bars.
        **kwargs: passed to :func:`run_strategy` (``epochs``, ``n_train``, ...).

    Returns:
        A :class:`course_lib.compare.Comparison`: ``.searches`` (the grid per strategy), ``.best``
        (the tuned rate), ``.table`` (one row per strategy and seed at its tuned rate), ``.edges()``.

    Example:
        >>> c = tune_strategies(["feature_extraction"], [1e-2, 1e-1], seeds=[0], epochs=1)
        >>> sorted(c.best), "val_acc" in c.table.metrics
        (['feature_extraction'], True)
    """
    names = _check_names(names)
    grids = _grids(names, lrs)
    check_number(
        "val_fraction", val_fraction, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False
    )
    seeds = list(seeds)
    runs = {n: functools.partial(_run_at, n, val_fraction=val_fraction, **kwargs) for n in names}
    return tune_and_compare(
        runs,
        grids,
        tune_seeds=seeds,
        eval_seeds=seeds,
        metric="val_acc",
        progress=progress,
    )


def interval_rows(
    comparison: Comparison, baseline: str = "scratch", metric: str = "test_acc"
) -> list[dict]:
    """Per strategy of a :func:`tune_strategies` result: its tuned rate, mean and 95 % t-interval.

    For strategy :math:`a` with values :math:`x_s` over :math:`n` seeds the interval is
    :math:`\\bar x \\pm t_{n-1,\\,0.975}\\,\\mathrm{std}(x)/\\sqrt n`
    (:func:`course_lib.compare.paired_difference` against zero); ``vs_baseline`` is the paired
    :class:`course_lib.compare.Difference` :math:`a - ` ``baseline`` (``None`` for the baseline).

    Example:
        >>> c = tune_strategies(["scratch", "feature_extraction"], [1e-2], seeds=[0, 1], epochs=1)
        >>> [sorted(r) for r in interval_rows(c)][0]
        ['high', 'low', 'lr', 'mean', 'name', 'vs_baseline']
    """
    table = comparison.table
    if baseline not in table.configs:
        raise ValueError(f"baseline must be one of {table.configs}, got {baseline!r}")
    rows = []
    for name in table.configs:
        values = [float(v) for v in table.values(name, metric)]
        ci = paired_difference(values, [0.0] * len(values), names=(name, "0"), metric=metric)
        vs = None if name == baseline else difference(table, name, baseline, metric)
        rows.append(
            {"name": name, "lr": comparison.best[name], "mean": ci.mean, "low": ci.low}
            | {"high": ci.high, "vs_baseline": vs}
        )
    return rows


def interval_text(rows: Sequence[dict], baseline: str = "scratch") -> str:
    """The rows of :func:`interval_rows` as a text table, accuracies in percent."""
    head = f"{'strategy':<19} {'tuned lr':>8}  {'test accuracy, 95% interval':<28} minus {baseline}"
    lines = [head, "-" * len(head)]
    for r in rows:
        half = (r["high"] - r["low"]) / 2
        acc = f"{100 * r['mean']:.1f} ± {100 * half:.1f}  [{100 * r['low']:.1f}, {100 * r['high']:.1f}]"
        d = r["vs_baseline"]
        vs = "-" if d is None else f"{100 * d.mean:+.1f} [{100 * d.low:+.1f}, {100 * d.high:+.1f}]"
        lines.append(f"{r['name']:<19} {r['lr']:>8g}  {acc:<28} {vs}")
    return "\n".join(lines)


def scan_backbone_lr(
    backbone_lrs: Sequence[float],
    seeds: Iterable[int],
    *,
    lr: float = DEFAULTS["lr"],
    progress: bool = False,
    **kwargs,
) -> Table:
    """``"differential"`` at several backbone rates :math:`\\gamma_b` with the head rate fixed.

    One configuration per backbone rate, labelled ``"backbone_lr=0.001"``, every one on the same
    seeds; each row has the test accuracy and how far the backbone drifted (:func:`drift`).

    Args:
        backbone_lrs: the rates :math:`\\gamma_b` to try, > 0.
        seeds: the same seeds for every rate.
        lr: the head rate :math:`\\gamma_h`.
        progress: progress bar.
        **kwargs: passed to :func:`run_strategy` (``epochs``, ``val_fraction``, ...).

    Example:
        >>> t = scan_backbone_lr([1e-3, 1e-1], seeds=[0], epochs=1)
        >>> t.configs
        ['backbone_lr=0.001', 'backbone_lr=0.1']
    """
    rates = check_nonempty("backbone_lrs", backbone_lrs)
    for i, b in enumerate(rates):
        check_number(f"backbone_lrs[{i}]", b, low=0.0, low_inclusive=False)
    configs = {
        f"backbone_lr={b:g}": functools.partial(
            run_strategy, "differential", lr=lr, backbone_lr=b, **kwargs
        )
        for b in rates
    }
    return run_grid(configs, seeds, progress=progress)
