"""Train the course's models with the recipes of :data:`course_lib.models.RECIPES`, and make the
pretrained backbones that ``course_lib/assets/`` ships: the 1-D CNN (``backbone_cnn.pt``, MNIST-1D) and
the 2-D CNN (``backbone_cnn2d.pt``, the MNIST digits).

Run ``python -m course_lib.pretrain`` to recreate ``course_lib/assets/backbone_cnn.pt`` and its ``.json``
deterministically on one machine: the CNN is trained on the transfer source task (:func:`course_lib.data.transfer_source`,
a large MNIST-1D draw) with the CNN recipe, on one CPU thread, and only its ``features`` are saved.
``python -m course_lib.pretrain --check`` retrains and compares the checksum with the shipped file
without writing anything. The checksum is reproducible on the CPU that made the file, not across
CPUs: eight epochs amplify the last-bit differences of other kernels (measured 2026-12-01: this
machine retrains to ``38e65858...``, test accuracy 0.9821, and under portable kernels to
``73e292c1...``, 0.9785, against the shipped ``78dec299...``, 0.98).

``python -m course_lib.pretrain --backbone mnist`` (and ``--check``) does the same for the 2-D
backbone: :class:`course_lib.models.CNN2d` trained on the 5,000 MNIST digits of
:func:`course_lib.data.mnist_digits` at 16x16 (:data:`PRETRAIN2D`). It always runs on one thread under
portable kernels (:data:`PORTABLE_KERNELS`, the command re-executes itself with them when they are not
set), so its checksum does not depend on the CPU's vector instructions.

The training loop here is deliberately minimal (no progress bar, no checkpoints): AdamW, cross-entropy,
the one-cycle schedule stepped per batch, optional circular-shift augmentation.

    >>> from course_lib.data import mnist1d
    >>> model, stats = train_recipe("logreg", mnist1d(), seed=0, epochs=2)
    >>> 0.0 <= stats["test_acc"] <= 1.0
    True
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from course_lib._validation import check_choice, check_int, check_number
from course_lib.data import (
    MNIST1D_DEFAULTS,
    TRANSFER_SOURCE_ARGS,
    Split,
    mnist_digits,
    transfer_source,
)
from course_lib.models import (
    BACKBONE2D_PT,
    BACKBONE_PT,
    CNN,
    RECIPES,
    CNN2d,
    build_model,
    sha256_of,
)
from course_lib.training import correct, train_step
from course_lib.training import evaluate as evaluate_model

__all__ = [
    "BACKBONES",
    "PORTABLE_KERNELS",
    "PRETRAIN2D",
    "PRETRAIN_EPOCHS",
    "PRETRAIN_SCHEDULES",
    "PRETRAIN_SEED",
    "evaluate",
    "main",
    "make_pretrain_optimizer",
    "pretrain_backbone",
    "pretrain_backbone2d",
    "random_roll",
    "train_classifier",
    "train_recipe",
]

#: Seed of the backbone's initialisation and batch order.
PRETRAIN_SEED = 0
#: Epochs over the source task's training set (32,000 examples: 320 batches of 100 per epoch).
PRETRAIN_EPOCHS = 8

PRETRAIN_SCHEDULES = ("onecycle", "cosine", "constant")

#: The backbones of ``python -m course_lib.pretrain --backbone NAME``: ``"mnist1d"`` (the 1-D CNN,
#: the default) and ``"mnist"`` (the 2-D CNN on the MNIST digits).
BACKBONES = ("mnist1d", "mnist")

#: How the 2-D backbone is made: :class:`course_lib.models.CNN2d` (``in_size``, ``channels``,
#: ``kernel_size``) trained on ``mnist_digits(in_size, test_size, split_seed)`` with
#: :func:`train_classifier`'s other arguments (seed 0, one thread, portable kernels).
PRETRAIN2D: dict[str, Any] = {
    "in_size": 16,
    "channels": (16, 32),
    "kernel_size": 3,
    "test_size": 1000,
    "split_seed": 0,
    "epochs": 8,
    "batch_size": 100,
    "lr": 1e-2,
    "weight_decay": 0.0,
    "optimizer": "AdamW",
    "schedule": "onecycle",
    "max_shift": 0,
}

#: Environment of the 2-D pretraining: torch's portable ATen kernels, oneDNN limited to SSE4.1, MKL
#: in its CPU-independent mode, one thread; read when torch loads, hence the re-execution in
#: :func:`main`.
PORTABLE_KERNELS = {
    "ATEN_CPU_CAPABILITY": "default",
    "ONEDNN_MAX_CPU_ISA": "SSE41",
    "MKL_CBWR": "COMPATIBLE",
    "OMP_NUM_THREADS": "1",
}


def random_roll(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Augmentation: roll a batch circularly along its last axis by one random offset.

    The offset :math:`s` is drawn uniformly from :math:`\\{-S, \\dots, S\\}` with ``S = max_shift`` and
    :math:`x'_t = x_{(t - s) \\bmod L}`; MNIST-1D's own translation is circular, so shifted examples
    stay close to the data distribution.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> random_roll(torch.arange(5.0).view(1, 5), 2, g).shape
        torch.Size([1, 5])
    """
    check_int("max_shift", max_shift, low=0)
    if max_shift == 0:
        return x
    s = int(torch.randint(-max_shift, max_shift + 1, (1,), generator=generator))
    return torch.roll(x, s, dims=-1)


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    """Accuracy :math:`\\frac1n \\sum_i [\\arg\\max_k f(x_i)_k = y_i]` in eval mode, without gradients.

    Counted exactly over batches of ``batch_size`` examples with :func:`course_lib.training.evaluate`;
    the model's training/eval mode is restored afterwards; ``0.0`` for no examples.

    Example:
        >>> evaluate(nn.Identity(), torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0]))
        0.5
    """
    if len(y) == 0:
        return 0.0
    batches = ((x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(y), batch_size))
    return evaluate_model(model, batches, loss_fn=None, metrics={"accuracy": correct})["accuracy"]


def make_pretrain_optimizer(
    params, name: str = "AdamW", lr: float = 1e-2, weight_decay: float = 0.0
):
    """``torch.optim.AdamW`` / ``Adam`` / ``SGD`` (momentum 0.9, Nesterov) by name."""
    check_choice("optimizer", name, ("AdamW", "Adam", "SGD"))
    check_number("lr", lr, low=0.0)
    check_number("weight_decay", weight_decay, low=0.0)
    if name == "AdamW":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "Adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)


def _make_scheduler(optimizer, schedule: str, total_steps: int):
    if schedule == "onecycle":
        max_lr = [g["lr"] for g in optimizer.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=max_lr, total_steps=total_steps
        )
    if schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    return None


def _train_epoch(model, opt, sched, split: Split, batch_size: int, max_shift: int, g) -> float:
    """One shuffled pass of :func:`course_lib.training.train_step` (scheduler stepped per batch);
    returns the epoch's mean batch loss weighted by batch size."""
    n = len(split.y_train)
    perm = torch.randperm(n, generator=g)
    total = 0.0
    for i in range(0, n, batch_size):
        idx = perm[i : i + batch_size]
        xb = random_roll(split.x_train[idx], max_shift, g)
        step = train_step(model, opt, xb, split.y_train[idx], check_finite=False)
        if sched is not None:
            sched.step()
        total += step.loss * len(idx)
    return total / n


def train_classifier(
    model: nn.Module,
    split: Split,
    *,
    epochs: int,
    batch_size: int = 100,
    lr: float = 1e-2,
    weight_decay: float = 0.0,
    optimizer: str = "AdamW",
    schedule: str = "onecycle",
    max_shift: int = 0,
    seed: int = 0,
    params=None,
    on_epoch_start=None,
) -> dict:
    """Train ``model`` on ``split`` with cross-entropy; the minimal loop behind every recipe.

    Per batch :math:`B`: :math:`L = -\\frac{1}{|B|}\\sum_{i \\in B} \\log \\mathrm{softmax}(f(x_i))_{y_i}`,
    ``loss.backward()``, ``optimizer.step()``, then ``scheduler.step()`` (per batch). Batches are
    shuffled by a generator seeded with ``seed`` that also draws the augmentation shifts, so the run
    depends only on ``seed`` and the model's initial weights.

    Args:
        model: the network (trained in place).
        split: the data; only ``x_train``/``y_train`` are used for training.
        epochs: passes over the training set (>= 1).
        batch_size: examples per batch.
        lr: (peak) learning rate; with ``params`` given as groups, each group's own ``lr`` is its peak.
        weight_decay: decoupled weight decay (AdamW) or L2 (Adam, SGD).
        optimizer: ``"AdamW"``, ``"Adam"`` or ``"SGD"``.
        schedule: ``"onecycle"``, ``"cosine"`` (to zero) or ``"constant"``, stepped per batch.
        max_shift: circular-shift augmentation range (0: none), see :func:`random_roll`.
        seed: seed of the batch order and the augmentation.
        params: parameters or parameter groups to optimize (default: ``model.parameters()``).
        on_epoch_start: optional ``callback(epoch)`` called before each epoch (``epoch`` from 0),
            e.g. to unfreeze a block (gradual unfreezing). Parameters with ``requires_grad=False``
            get no gradient, so the optimizer skips them until they are unfrozen.

    Returns:
        dict with ``train_loss`` (mean loss of each epoch), ``test_acc``, ``wall_s`` and ``cpu_s``.
    """
    check_int("epochs", epochs, low=1)
    check_int("batch_size", batch_size, low=1)
    check_choice("schedule", schedule, PRETRAIN_SCHEDULES)
    check_int("max_shift", max_shift, low=0)
    check_int("seed", seed, low=0)
    opt = make_pretrain_optimizer(
        model.parameters() if params is None else params, optimizer, lr, weight_decay
    )
    n = len(split.y_train)
    batches = (n + batch_size - 1) // batch_size
    sched = _make_scheduler(opt, schedule, epochs * batches)
    g = torch.Generator().manual_seed(seed)
    losses = []
    wall0, cpu0 = time.perf_counter(), time.process_time()
    model.train()
    for epoch in range(epochs):
        if on_epoch_start is not None:
            on_epoch_start(epoch)
        losses.append(_train_epoch(model, opt, sched, split, batch_size, max_shift, g))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {
        "train_loss": losses,
        "test_acc": evaluate(model, split.x_test, split.y_test),
        "wall_s": wall,
        "cpu_s": cpu,
    }


def train_recipe(name: str, split: Split, seed: int = 0, **overrides) -> tuple[nn.Module, dict]:
    """Build the model of ``RECIPES[name]`` (initialised with ``seed``) and train it on ``split``.

    Args:
        name: ``"logreg"``, ``"mlp"`` or ``"cnn"``.
        split: the data (e.g. :func:`course_lib.data.mnist1d`).
        seed: seed of the initialisation, the batch order and the augmentation.
        **overrides: replace entries of the recipe, e.g. ``epochs=5`` for a quick run,
            ``max_shift=0`` (no augmentation) or ``model_kwargs={"channels": (25, 25, 25)}``.

    Returns:
        ``(model, stats)`` with the stats of :func:`train_classifier`.
    """
    check_choice("name", name, RECIPES)
    unknown = sorted(set(overrides) - set(RECIPES[name]))
    if unknown:
        raise TypeError(
            f"train_recipe() got unknown recipe key(s) {unknown}; known: {', '.join(RECIPES[name])}"
        )
    r = {**RECIPES[name], **overrides}
    model = build_model(
        r["model"],
        seed=seed,
        **r["model_kwargs"],
        **_shape_kwargs(r["model"], split),
    )
    stats = train_classifier(
        model,
        split,
        epochs=r["epochs"],
        batch_size=r["batch_size"],
        lr=r["lr"],
        weight_decay=r["weight_decay"],
        optimizer=r["optimizer"],
        schedule=r["schedule"],
        max_shift=r["max_shift"],
        seed=seed,
    )
    return model, stats


def _shape_kwargs(kind: str, split: Split) -> dict:
    length_key = "in_length" if kind == "cnn" else "in_features"
    return {length_key: split.num_features, "num_classes": split.num_classes}


@contextlib.contextmanager
def _num_threads(n: int):
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _backbone_info(model_kwargs: dict, train: dict, seed: int, source: Split, stats: dict) -> dict:
    """The metadata of ``backbone_cnn.json`` (without the checksum): how the backbone was made."""
    return {
        "description": "state_dict of course_lib.models.CNN(**model).features, pretrained on "
        "course_lib.data.transfer_source()",
        "command": "python -m course_lib.pretrain",
        "model": model_kwargs,
        "source_args": dict(TRANSFER_SOURCE_ARGS),
        "source_generator_args": {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in {**MNIST1D_DEFAULTS, **TRANSFER_SOURCE_ARGS}.items()
        },
        "source_train_size": len(source.y_train),
        "source_test_size": len(source.y_test),
        "source_test_acc": round(stats["test_acc"], 4),
        "source_train_loss_last_epoch": round(stats["train_loss"][-1], 4),
        "training": {**train, "seed": seed, "num_threads": 1},
        "train_cpu_s": round(stats["cpu_s"], 1),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
    }


def pretrain_backbone(
    seed: int = PRETRAIN_SEED, epochs: int = PRETRAIN_EPOCHS, *, verbose: bool = False
) -> tuple[CNN, dict]:
    """Train the recipe's CNN on the transfer source task; deterministic (one CPU thread).

    Args:
        seed: seed of the initialisation, batch order and augmentation.
        epochs: passes over the source training set.
        verbose: print progress.

    Returns:
        ``(model, info)``: the trained CNN (features + source head) and the metadata that goes into
        ``backbone_cnn.json`` (without the checksum).
    """
    check_int("seed", seed, low=0)
    check_int("epochs", epochs, low=1)
    recipe = RECIPES["cnn"]
    with _num_threads(1):
        t0 = time.process_time()
        source = transfer_source()
        data_cpu = time.process_time() - t0
        if verbose:
            print(f"source task {source} generated in {data_cpu:.1f} CPU s", flush=True)
        model_kwargs: dict[str, Any] = {
            "in_length": source.num_features,
            "channels": list(recipe["model_kwargs"]["channels"]),
            "kernel_sizes": list(recipe["model_kwargs"]["kernel_sizes"]),
            "stride": 2,
        }
        model = CNN(num_classes=source.num_classes, seed=seed, **model_kwargs)
        train = {k: recipe[k] for k in ("batch_size", "lr", "weight_decay", "optimizer")}
        train.update(schedule=recipe["schedule"], max_shift=recipe["max_shift"], epochs=epochs)
        stats = train_classifier(model, source, seed=seed, **train)
    if verbose:
        print(
            f"source test accuracy {stats['test_acc']:.4f} after {epochs} epochs, "
            f"{stats['cpu_s']:.1f} CPU s",
            flush=True,
        )
    return model, _backbone_info(model_kwargs, train, seed, source, stats)


def save_backbone(model: nn.Module, info: dict, path=BACKBONE_PT) -> dict:
    """Write ``model.features.state_dict()`` to ``path`` and the metadata (with sha256) beside it."""
    pt = Path(path)
    pt.parent.mkdir(parents=True, exist_ok=True)
    features = cast(nn.Module, model.features)
    state = {k: v.detach().clone().contiguous() for k, v in features.state_dict().items()}
    torch.save(state, pt)
    info = {**info, "file": pt.name, "bytes": pt.stat().st_size, "sha256": sha256_of(pt)}
    pt.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def _backbone2d_info(source: Split, stats: dict, seed: int, epochs: int) -> dict:
    """The metadata of ``backbone_cnn2d.json`` (without the checksum): how the backbone was made."""
    r = PRETRAIN2D
    train = {k: r[k] for k in ("batch_size", "lr", "weight_decay", "optimizer", "schedule")}
    return {
        "description": "state_dict of course_lib.models.CNN2d(**model).features, pretrained on "
        "course_lib.data.mnist_digits(**source_args)",
        "command": "python -m course_lib.pretrain --backbone mnist",
        "architecture": "cnn2d",
        "model": {
            "in_size": r["in_size"],
            "channels": list(r["channels"]),
            "kernel_size": r["kernel_size"],
        },
        "source_args": {"size": r["in_size"], "test_size": r["test_size"], "seed": r["split_seed"]},
        "source_train_size": len(source.y_train),
        "source_test_size": len(source.y_test),
        "source_test_acc": round(stats["test_acc"], 4),
        "source_train_loss_last_epoch": round(stats["train_loss"][-1], 4),
        "training": {**train, "max_shift": r["max_shift"], "epochs": epochs, "seed": seed},
        "kernels": {k: os.environ.get(k) for k in PORTABLE_KERNELS},
        "train_cpu_s": round(stats["cpu_s"], 1),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
    }


def pretrain_backbone2d(
    seed: int = PRETRAIN_SEED, epochs: int = PRETRAIN2D["epochs"], *, verbose: bool = False
) -> tuple[CNN2d, dict]:
    """Train a :class:`course_lib.models.CNN2d` on the MNIST digits (:data:`PRETRAIN2D`), one thread.

    The recipe: AdamW (no weight decay), one-cycle rates peaking at :math:`\\gamma = 10^{-2}` stepped
    per batch of 100, cross-entropy, no augmentation, on the 4,000 training digits at 16x16; the 1,000
    test digits give the source accuracy. Bit-for-bit reproducible under :data:`PORTABLE_KERNELS`
    (which :func:`main` sets); elsewhere only on the same CPU.

    Args:
        seed: seed of the initialisation and the batch order.
        epochs: passes over the 4,000 training digits.
        verbose: print progress.

    Returns:
        ``(model, info)``: the trained CNN2d (features + source head) and the metadata of
        ``backbone_cnn2d.json`` (without the checksum).
    """
    check_int("seed", seed, low=0)
    check_int("epochs", epochs, low=1)
    r = PRETRAIN2D
    with _num_threads(1):
        source = mnist_digits(r["in_size"], test_size=r["test_size"], seed=r["split_seed"])
        model = CNN2d(r["in_size"], source.num_classes, r["channels"], r["kernel_size"], seed=seed)
        keys = ("batch_size", "lr", "weight_decay", "optimizer", "schedule", "max_shift")
        stats = train_classifier(model, source, epochs=epochs, seed=seed, **{k: r[k] for k in keys})
    if verbose:
        print(
            f"source test accuracy {stats['test_acc']:.4f} after {epochs} epochs, "
            f"{stats['cpu_s']:.1f} CPU s",
            flush=True,
        )
    return model, _backbone2d_info(source, stats, seed, epochs)


def _portable() -> bool:
    """Whether this process runs under :data:`PORTABLE_KERNELS`."""
    return all(os.environ.get(k) == v for k, v in PORTABLE_KERNELS.items())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.pretrain", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--backbone",
        choices=BACKBONES,
        default="mnist1d",
        help="mnist1d: the 1-D CNN of backbone_cnn.pt (default); mnist: the 2-D CNN of "
        "backbone_cnn2d.pt, trained on the MNIST digits under portable kernels",
    )
    parser.add_argument("--out", default=None, help="path of the .pt file to write")
    parser.add_argument("--seed", type=int, default=PRETRAIN_SEED)
    parser.add_argument("--epochs", type=int, default=None, help="default: the backbone's recipe")
    parser.add_argument(
        "--check",
        action="store_true",
        help="retrain and compare the checksum with the file at --out; write nothing",
    )
    return parser


def _check(model: nn.Module, info: dict, out: Path) -> int:
    """Save a retrained backbone in a temporary folder and compare its sha256 with the shipped one."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        fresh = save_backbone(model, info, Path(tmp) / out.name)
    shipped = json.loads(out.with_suffix(".json").read_text())
    same = fresh["sha256"] == shipped.get("sha256") == sha256_of(out)
    print(f"retrained sha256 {fresh['sha256']}\nshipped   sha256 {shipped.get('sha256')}")
    print("OK: identical" if same else "DIFFERENT")
    return 0 if same else 1


def main(argv=None) -> int:
    """Command line: pretrain and write ``course_lib/assets/backbone_cnn.{pt,json}`` (or ``--check`` them).

    ``--backbone mnist`` does the same for ``backbone_cnn2d.{pt,json}``; when the process does not
    run under :data:`PORTABLE_KERNELS` it re-executes itself with them and returns the child's status.
    """
    args = _parser().parse_args(argv)
    if args.backbone == "mnist" and not _portable():
        child = [
            sys.executable,
            "-m",
            "course_lib.pretrain",
            *(sys.argv[1:] if argv is None else argv),
        ]
        return subprocess.run(child, env={**os.environ, **PORTABLE_KERNELS}, check=False).returncode
    cpu0 = time.process_time()
    model: nn.Module
    if args.backbone == "mnist":
        epochs = PRETRAIN2D["epochs"] if args.epochs is None else args.epochs
        model, info = pretrain_backbone2d(args.seed, epochs, verbose=True)
        out = Path(args.out or BACKBONE2D_PT)
    else:
        epochs = PRETRAIN_EPOCHS if args.epochs is None else args.epochs
        model, info = pretrain_backbone(args.seed, epochs, verbose=True)
        out = Path(args.out or BACKBONE_PT)
    if args.check:
        return _check(model, info, out)
    info = save_backbone(model, info, out)
    print(
        f"wrote {out} ({info['bytes']} bytes, sha256 {info['sha256']}) and "
        f"{out.with_suffix('.json').name}; total {time.process_time() - cpu0:.1f} CPU s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
