"""The course's training loop: ``fit`` with a progress bar, a history, schedulers, divergence, checkpoints.

One optimizer step is the five lines every notebook shows::

    optimizer.zero_grad()                 # forget the previous gradient
    loss = loss_fn(model(x), y)           # forward: the mean loss of the batch
    loss.backward()                       # backward: d loss / d theta into p.grad
    optimizer.step()                      # theta <- update(theta, grad, state)
    scheduler.step()                      # per batch ("step") or once per epoch ("epoch")

:func:`fit` wraps them with what real training needs: epochs over ``DataLoader``\\ s, a ``tqdm`` bar
(a widget in JupyterLab), validation, metrics, a :class:`History`, divergence detection and
checkpoints that resume bit-identically.

**Checkpoints and resuming.** With ``checkpoint_path`` a checkpoint is written at the end of every
epoch, every ``checkpoint_every`` optimizer steps (also in the middle of an epoch), and when training
stops early (``max_steps`` or a callback); never after a divergence (the last good one stays). One
file holds the model, optimizer and scheduler ``state_dict``\\ s, the position (epoch, batch, step),
the history, which parameters were frozen, and the RNG states: torch CPU (and CUDA when used), NumPy's
global RNG, Python's ``random``, and the training loader's ``torch.Generator``\\ s. It is written
atomically (temporary file in the same folder, ``fsync``, ``os.replace``): a crash while saving leaves
the previous checkpoint intact. It is read with ``torch.load(weights_only=True)``, which never
unpickles arbitrary objects.

``fit(..., resume_from=path)`` continues exactly where the run stopped, bit for bit, provided that you
build the same model, optimizer (same groups, same order), scheduler, loss and loaders as the first
run (the restored states overwrite theirs). To resume in the middle of an epoch, the epoch's batch
order is replayed: the RNG states of the start of that epoch are restored, the already-trained
batches are drawn and skipped (no training on them), then the RNG states of the checkpoint are
restored. This works whether the loader shuffles with its own ``torch.Generator`` (as
``course_lib.data.loaders`` does; recommended) or with the global torch RNG. NumPy's ``Generator``
objects and other RNGs you own are not saved.
"""

from __future__ import annotations

import math
import os
import random
import tempfile
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.lr_scheduler import ReduceLROnPlateau
from tqdm.auto import tqdm

from course_lib._validation import check_bool, check_choice, check_int
from course_lib.param_groups import freeze, unfreeze

__all__ = [
    "CHECKPOINT_FORMAT",
    "FitState",
    "History",
    "accuracy",
    "atomic_save",
    "evaluate",
    "fit",
    "load_checkpoint",
    "loader_generators",
    "resolve_device",
    "rng_state",
    "save_checkpoint",
    "set_rng_state",
]

#: Written into every checkpoint; a file without it is not one of ours.
CHECKPOINT_FORMAT = "course_lib.training/1"

_HOOKS = ("on_fit_start", "on_epoch_start", "on_step_end", "on_epoch_end", "on_fit_end")


def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Fraction of rows whose largest logit is the target class: mean of ``argmax(outputs) == y``.

    Example:
        >>> accuracy(torch.tensor([[2.0, 1.0], [0.0, 3.0]]), torch.tensor([0, 0]))
        tensor(0.5000)
    """
    return (outputs.argmax(dim=1) == targets).float().mean()


def resolve_device(device="auto") -> torch.device:
    """``"auto"``: CUDA when available, else CPU; anything else goes through ``torch.device``.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}"
        ) from err


def _to_float(value) -> float:
    return float(value.item() if isinstance(value, torch.Tensor) else value)


def _to_device(obj, device: torch.device):
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(o, device) for o in obj)
    return obj


def _batch_size(targets) -> int:
    if isinstance(targets, torch.Tensor) and targets.ndim > 0:
        return int(targets.shape[0])
    return len(targets)


# --------------------------------------------------------------------------------------------------
# History
# --------------------------------------------------------------------------------------------------


@dataclass(repr=False)
class History:
    """What happened during ``fit``: per-step losses and hyperparameters, per-epoch losses and metrics.

    Per optimizer step ``k`` (0-based): ``step_loss[k]`` is the batch loss and ``lr[k][g]`` the learning
    rate group ``g`` used for that step (``momentum[k][g]``, ``beta1[k][g]`` likewise when some group
    has ``momentum`` / ``betas``; ``None`` for groups without). Per epoch, ``epochs`` maps a key to one
    value per epoch: ``"epoch"``, ``"step"`` (optimizer steps done at its end), ``"complete"`` (False
    for the last epoch when training stopped inside it), ``"train_loss"`` and ``"train_<metric>"``
    (averages over the epoch's batches, weighted by batch size), ``"val_loss"``, ``"val_<metric>"``.

    Everything is plain lists, dicts, floats and ints, so a checkpoint stores it under
    ``torch.load(weights_only=True)``.

    Example:
        >>> h = History(group_names=["all"])
        >>> h.steps, h.diverged
        (0, False)
    """

    group_names: list[str] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    lr: list[list[float]] = field(default_factory=list)
    momentum: list[list[float | None]] = field(default_factory=list)
    beta1: list[list[float | None]] = field(default_factory=list)
    epochs: dict[str, list] = field(default_factory=dict)
    diverged: bool = False
    diverged_at: int | None = None
    stop_reason: str | None = None

    @property
    def steps(self) -> int:
        """Number of recorded steps (a diverged step included)."""
        return len(self.step_loss)

    @property
    def num_epochs(self) -> int:
        """Number of epoch records."""
        return len(self.epochs.get("epoch", []))

    @property
    def train_loss(self) -> list[float]:
        """Training loss per epoch."""
        return self.epochs.get("train_loss", [])

    @property
    def val_loss(self) -> list[float]:
        """Validation loss per epoch (empty without a validation loader)."""
        return self.epochs.get("val_loss", [])

    def __getitem__(self, key: str) -> list:
        """``history["val_accuracy"]``: the per-epoch list of that key."""
        return self.epochs[key]

    def series(self, key: str = "lr", group: int = 0) -> list[float | None]:
        """One group's per-step values of ``"lr"``, ``"momentum"`` or ``"beta1"``."""
        check_choice("key", key, ("lr", "momentum", "beta1"))
        rows = getattr(self, key)
        return [row[group] if group < len(row) else None for row in rows]

    def record_step(self, loss: float, param_groups) -> None:
        """Append one step: its loss and every group's hyperparameters as the step used them."""
        self.step_loss.append(loss)
        self.lr.append([_to_float(g["lr"]) for g in param_groups])
        if any("momentum" in g for g in param_groups):
            self.momentum.append(
                [_to_float(g["momentum"]) if "momentum" in g else None for g in param_groups]
            )
        if any("betas" in g for g in param_groups):
            self.beta1.append(
                [_to_float(g["betas"][0]) if "betas" in g else None for g in param_groups]
            )

    def record_epoch(self, record: Mapping) -> None:
        """Append one epoch's record (every key gets a value; missing ones are ``None``)."""
        n = self.num_epochs
        for key in record:
            self.epochs.setdefault(key, [None] * n)
        for key, values in self.epochs.items():
            values.append(record.get(key))

    def to_dict(self) -> dict:
        """Plain copy (lists, dicts, numbers, strings) for checkpoints and JSON."""
        return {
            "group_names": list(self.group_names),
            "step_loss": list(self.step_loss),
            "lr": [list(r) for r in self.lr],
            "momentum": [list(r) for r in self.momentum],
            "beta1": [list(r) for r in self.beta1],
            "epochs": {k: list(v) for k, v in self.epochs.items()},
            "diverged": self.diverged,
            "diverged_at": self.diverged_at,
            "stop_reason": self.stop_reason,
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> History:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d}).copy()

    def copy(self) -> History:
        """A deep copy of the lists."""
        return History(**{**self.to_dict()})

    def __repr__(self) -> str:
        parts = [f"{self.num_epochs} epochs", f"{self.steps} steps"]
        for key in ("train_loss", "val_loss"):
            if self.epochs.get(key):
                parts.append(f"{key}={self.epochs[key][-1]:.4g}")
        if self.diverged:
            parts.append(f"diverged at step {self.diverged_at}")
        return f"History({', '.join(parts)})"


@dataclass
class FitState:
    """What callbacks see: the objects being trained and the position. Set ``stop = True`` to stop.

    A callback is any object with some of these methods, each called with this state:
    ``on_fit_start``, ``on_epoch_start`` (before the epoch's batches are drawn), ``on_step_end``
    (after ``optimizer.step()`` and a per-step ``scheduler.step()``), ``on_epoch_end`` (after
    validation and a per-epoch ``scheduler.step()``), ``on_fit_end``. A callback with
    ``state_dict()`` / ``load_state_dict()`` has its state saved in checkpoints (plain values only).
    ``epoch`` is the 0-based current epoch, except in ``on_epoch_end`` where it already counts the
    finished epoch (it is the number of completed epochs); ``step`` counts optimizer steps done.
    When a run resumes in the middle of an epoch, ``on_epoch_start`` is not called again for it.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: object
    history: History
    epoch: int = 0
    step: int = 0
    batch: int = 0
    loss: float | None = None
    stop: bool = False


class _Running:
    """Batch-size-weighted sums of the loss and metrics over one epoch."""

    def __init__(self, names=()):
        self.n = 0
        self.sums = {"loss": 0.0, **{m: 0.0 for m in names}}

    def add(self, n: int, values: Mapping[str, float]) -> None:
        self.n += n
        for k, v in values.items():
            self.sums[k] += v * n

    def means(self) -> dict[str, float]:
        return {k: (s / self.n if self.n else math.nan) for k, s in self.sums.items()}

    def state_dict(self) -> dict:
        return {"n": self.n, "sums": dict(self.sums)}

    def load_state_dict(self, d: Mapping) -> None:
        self.n, self.sums = int(d["n"]), dict(d["sums"])


# --------------------------------------------------------------------------------------------------
# RNG states
# --------------------------------------------------------------------------------------------------


def loader_generators(loader) -> list[torch.Generator]:
    """The ``torch.Generator``\\ s a DataLoader shuffles with (its own, its sampler's), each once."""
    found: list[torch.Generator] = []
    candidates = [
        getattr(loader, "generator", None),
        getattr(getattr(loader, "sampler", None), "generator", None),
        getattr(
            getattr(getattr(loader, "batch_sampler", None), "sampler", None), "generator", None
        ),
    ]
    for g in candidates:
        if isinstance(g, torch.Generator) and not any(g is f for f in found):
            found.append(g)
    return found


def rng_state(generators=()) -> dict:
    """Every RNG state as plain values: torch CPU, CUDA (when initialised), NumPy, Python, generators.

    Example:
        >>> s = rng_state(); a = torch.rand(1); set_rng_state(s); torch.equal(a, torch.rand(1))
        True
    """
    kind, keys, pos, has_gauss, gauss = np.random.get_state()  # noqa: NPY002 (the global RNG is what we save)
    version, internal, py_gauss = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(gauss),
        },
        "python": [int(version), list(internal), py_gauss],
        "generators": [g.get_state() for g in generators],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping, generators=()) -> None:
    """Restore what :func:`rng_state` saved (``generators`` in the same order)."""
    torch.set_rng_state(state["torch"])
    npst = state["numpy"]
    keys = npst["keys"].numpy().astype(np.uint32)
    np.random.set_state(  # noqa: NPY002
        (npst["kind"], keys, npst["pos"], npst["has_gauss"], npst["cached_gaussian"])
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    saved = state["generators"]
    if len(saved) != len(generators):
        raise ValueError(
            f"the checkpoint saved {len(saved)} DataLoader generator state(s) but the training "
            f"loader has {len(generators)}; create the loader as in the first run (for example "
            "DataLoader(..., shuffle=True, generator=torch.Generator()))"
        )
    for g, s in zip(generators, saved):
        g.set_state(s)
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002
    torch.manual_seed(seed)  # seeds CUDA too


# --------------------------------------------------------------------------------------------------
# Checkpoint files
# --------------------------------------------------------------------------------------------------


def atomic_save(obj, path) -> None:
    """``torch.save`` that never leaves a half-written file at ``path``.

    Writes a temporary file in the same folder, flushes it to disk (``fsync``), then renames it over
    ``path`` with ``os.replace`` (atomic on POSIX and Windows). If anything fails the temporary file
    is removed and ``path`` keeps its previous content.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def save_checkpoint(path, model: nn.Module, optimizer=None, scheduler=None, **extra) -> None:
    """Save model, optimizer and scheduler ``state_dict``\\ s (plus plain ``extra`` values) atomically.

    Example:
        >>> import tempfile, os
        >>> model = nn.Linear(2, 1)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     save_checkpoint(os.path.join(d, "ckpt.pt"), model)
        ...     _ = load_checkpoint(os.path.join(d, "ckpt.pt"), model)
    """
    ckpt = {
        "format": CHECKPOINT_FORMAT,
        "model": model.state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "optimizer_class": None if optimizer is None else type(optimizer).__name__,
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "scheduler_class": None if scheduler is None else type(scheduler).__name__,
        **extra,
    }
    atomic_save(ckpt, path)


def _check_model_state(model: nn.Module, state: Mapping, source: str) -> None:
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in state
        and isinstance(state[k], torch.Tensor)
        and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing keys (in the model, not in the checkpoint): {missing}")
    if unexpected:
        problems.append(f"unexpected keys (in the checkpoint, not in the model): {unexpected}")
    if shapes:
        problems.append(f"shape mismatch: {'; '.join(shapes)}")
    if problems:
        raise ValueError(
            f"checkpoint {source} does not match this model ({type(model).__name__}): "
            + " | ".join(problems)
        )


def load_checkpoint(path, model: nn.Module, optimizer=None, scheduler=None) -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` / ``fit`` into the given objects.

    Reads with ``torch.load(weights_only=True)`` (no arbitrary unpickling) onto the CPU; the model's
    tensors are copied into its own (on its device). A checkpoint from another model raises a
    ``ValueError`` naming the missing/unexpected keys and shape mismatches; an optimizer or scheduler of
    another class or with other groups raises one too.

    Returns:
        The whole checkpoint dict (position, history, RNG states, ...).
    """
    source = os.fspath(path)
    if not os.path.exists(source):
        raise FileNotFoundError(f"no checkpoint at {source!r}")
    try:
        ckpt = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(
            f"{source!r} could not be read as a weights-only checkpoint: {err}"
        ) from err
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{source!r} is not a course_lib checkpoint (format {CHECKPOINT_FORMAT})")
    _check_model_state(model, ckpt["model"], repr(source))
    model.load_state_dict(ckpt["model"])
    for kind, obj in (("optimizer", optimizer), ("scheduler", scheduler)):
        if obj is None:
            continue
        saved = ckpt.get(kind)
        if saved is None:
            raise ValueError(f"checkpoint {source!r} has no {kind} state to load")
        if ckpt[f"{kind}_class"] != type(obj).__name__:
            raise ValueError(
                f"checkpoint {source!r} holds a {ckpt[f'{kind}_class']} {kind} state, "
                f"but a {type(obj).__name__} was given"
            )
        try:
            obj.load_state_dict(saved)
        except (ValueError, KeyError, RuntimeError) as err:
            raise ValueError(
                f"checkpoint {source!r}: the {kind} does not match ({err}); build it with the same "
                "parameter groups, in the same order, as the run that wrote the checkpoint"
            ) from err
    return ckpt


# --------------------------------------------------------------------------------------------------
# evaluate and fit
# --------------------------------------------------------------------------------------------------


def _default_metrics(metrics, loss_fn) -> dict[str, Callable]:
    if metrics is None:
        is_ce = loss_fn is F.cross_entropy or isinstance(loss_fn, nn.CrossEntropyLoss)
        return {"accuracy": accuracy} if is_ce else {}
    if not isinstance(metrics, Mapping):
        raise TypeError(f"metrics must be a dict of name -> fn(outputs, targets), got {metrics!r}")
    for name, fn in metrics.items():
        if not isinstance(name, str) or not callable(fn):
            raise TypeError(f"metrics must map names to fn(outputs, targets), got {name!r}: {fn!r}")
        if name == "loss":
            raise ValueError("metrics must not be called 'loss' (the loss is always recorded)")
    return dict(metrics)


def _model_device(model: nn.Module) -> torch.device:
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return torch.device("cpu")


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader,
    *,
    loss_fn: Callable = F.cross_entropy,
    metrics: Mapping[str, Callable] | None = None,
    device=None,
) -> dict[str, float]:
    """Mean loss and metrics of ``model`` over ``loader``, in eval mode, without gradients.

    Means are weighted by batch size, :math:`\\bar L = \\sum_b n_b L_b / \\sum_b n_b`, so a short last
    batch counts for what it holds. The model's train/eval mode is restored afterwards.

    Args:
        model: the model (moved to nothing; batches go to ``device``).
        loader: iterable of ``(inputs, targets)`` batches.
        loss_fn: ``loss_fn(outputs, targets)`` returning the batch mean.
        metrics: name -> ``fn(outputs, targets)``; ``None`` gives accuracy for cross-entropy.
        device: where batches go; ``None`` for the model's device.

    Returns:
        ``{"loss": ..., "<metric>": ...}``.

    Example:
        >>> from torch.utils.data import DataLoader, TensorDataset
        >>> loader = DataLoader(TensorDataset(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)))
        >>> sorted(evaluate(nn.Linear(2, 3), loader))
        ['accuracy', 'loss']
    """
    metrics = _default_metrics(metrics, loss_fn)
    device = _model_device(model) if device is None else resolve_device(device)
    was_training = model.training
    model.eval()
    running = _Running(metrics)
    try:
        for inputs, targets in loader:
            inputs, targets = _to_device(inputs, device), _to_device(targets, device)
            outputs = model(inputs)
            values = {"loss": _to_float(loss_fn(outputs, targets))}
            values.update({m: _to_float(fn(outputs, targets)) for m, fn in metrics.items()})
            running.add(_batch_size(targets), values)
    finally:
        model.train(was_training)
    return running.means()


def _call(callbacks, hook: str, state: FitState) -> None:
    for cb in callbacks:
        fn = getattr(cb, hook, None)
        if fn is not None:
            fn(state)


def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train_loader,
    epochs: int,
    *,
    loss_fn: Callable = F.cross_entropy,
    val_loader=None,
    metrics: Mapping[str, Callable] | None = None,
    scheduler=None,
    scheduler_interval: str | None = None,
    monitor: str | None = None,
    device="auto",
    progress: bool = True,
    checkpoint_path=None,
    checkpoint_every: int | None = None,
    resume_from=None,
    callbacks=(),
    max_steps: int | None = None,
    seed: int | None = None,
) -> History:
    """Train ``model`` for ``epochs`` epochs; return a :class:`History`.

    Each batch: ``zero_grad``, forward, ``loss = loss_fn(outputs, y)``, ``backward``,
    ``optimizer.step()``, then ``scheduler.step()`` when ``scheduler_interval="step"``. After each
    epoch: validation, the epoch record, then ``scheduler.step()`` when ``scheduler_interval="epoch"``
    (``ReduceLROnPlateau`` gets ``scheduler.step(history[monitor][-1])``).

    A non-finite loss stops training before the update: a ``RuntimeWarning`` "diverged at step k
    (loss=nan)", ``history.diverged = True``, ``history.diverged_at = k`` (0-based step index; the
    non-finite loss is the last entry of ``history.step_loss``). No checkpoint is written then.

    Args:
        model: the model; moved to ``device``.
        optimizer: built on ``model``'s parameters.
        train_loader: yields ``(inputs, targets)``; shuffle with its own ``torch.Generator`` for
            reproducible resuming (see the module docstring).
        epochs: total number of epochs (>= 1), counted from the start of the run, also when resuming.
        loss_fn: ``loss_fn(outputs, targets)`` returning the batch mean.
        val_loader: optional validation batches, evaluated after each epoch.
        metrics: name -> ``fn(outputs, targets)`` (batch mean). ``None``: ``{"accuracy": accuracy}``
            when ``loss_fn`` is cross-entropy, no metric otherwise.
        scheduler: a torch scheduler (or any object with ``step()`` and ``state_dict()``).
        scheduler_interval: ``"step"`` (per batch, e.g. OneCycleLR) or ``"epoch"``. Required with a
            scheduler, because stepping a per-batch schedule once per epoch (or the reverse) is the
            commonest scheduler bug; ``ReduceLROnPlateau`` defaults to and requires ``"epoch"``.
        monitor: the epoch key ``ReduceLROnPlateau`` watches; default ``"val_loss"`` with a
            validation loader, else ``"train_loss"``. Set the scheduler's ``mode="max"`` for accuracy.
        device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``, a ``torch.device``.
        progress: show a ``tqdm.auto`` bar (a widget in JupyterLab); ``False`` is quiet.
        checkpoint_path: where to write checkpoints (see module docstring); ``None``: no checkpoints.
        checkpoint_every: also write one every this many optimizer steps (>= 1).
        resume_from: a checkpoint path to continue from.
        callbacks: objects with hooks (see :class:`FitState`), e.g. a ``GradualUnfreezer``.
        max_steps: stop after this many optimizer steps in total (>= 1).
        seed: seeds Python's ``random``, NumPy's global RNG and torch (CPU and CUDA) before training
            (not when resuming: the checkpoint's RNG states are used). The loader's own generator
            and the model's initialisation are yours to seed.

    Returns:
        The :class:`History` (also when training diverged).

    Example:
        >>> from torch.utils.data import DataLoader, TensorDataset
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randn(64, 4, generator=g); y = (x[:, 0] > 0).long()
        >>> loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=g)
        >>> model = nn.Linear(4, 2)
        >>> h = fit(model, torch.optim.SGD(model.parameters(), lr=0.5), loader, 3, progress=False)
        >>> h.steps, len(h.train_loss), h.train_loss[-1] < h.train_loss[0]
        (12, 3, True)
    """
    # ---- arguments ----------------------------------------------------------------------------
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )
    epochs = check_int("epochs", epochs, low=1)
    check_bool("progress", progress)
    if max_steps is not None:
        check_int("max_steps", max_steps, low=1)
    if checkpoint_every is not None:
        check_int("checkpoint_every", checkpoint_every, low=1)
        if checkpoint_path is None:
            raise ValueError("checkpoint_every needs a checkpoint_path")
    if seed is not None:
        check_int("seed", seed, low=0)
    metrics = _default_metrics(metrics, loss_fn)
    is_plateau = isinstance(scheduler, ReduceLROnPlateau)
    if scheduler is not None:
        if not (hasattr(scheduler, "step") and hasattr(scheduler, "state_dict")):
            raise TypeError(f"scheduler must be a torch LR scheduler, got {scheduler!r}")
        if is_plateau and scheduler_interval is None:
            scheduler_interval = "epoch"
        if scheduler_interval is None:
            raise ValueError(
                "scheduler_interval must be 'step' (per batch, e.g. OneCycleLR) or 'epoch' when "
                "a scheduler is given, got None"
            )
        check_choice("scheduler_interval", scheduler_interval, ("step", "epoch"))
        if is_plateau and scheduler_interval != "epoch":
            raise ValueError(
                "scheduler_interval must be 'epoch' for ReduceLROnPlateau (it watches an epoch "
                f"metric), got {scheduler_interval!r}"
            )
    elif scheduler_interval is not None:
        check_choice("scheduler_interval", scheduler_interval, ("step", "epoch"))
    if monitor is None:
        monitor = "val_loss" if val_loader is not None else "train_loss"
    else:
        split_ = "val" if val_loader is not None else "train"
        valid = [f"{s}_{m}" for s in ("train", split_) for m in ("loss", *metrics)]
        check_choice("monitor", monitor, dict.fromkeys(valid))
    callbacks = list(callbacks)
    for cb in callbacks:
        if not any(hasattr(cb, h) for h in _HOOKS):
            raise TypeError(f"a callback needs at least one of the methods {_HOOKS}, got {cb!r}")

    # ---- state ----------------------------------------------------------------------------------
    device = resolve_device(device)
    model.to(device)
    gens = loader_generators(train_loader)
    try:
        n_batches = len(train_loader)
    except TypeError:
        n_batches = None
    history = History(
        group_names=[str(g.get("name", i)) for i, g in enumerate(optimizer.param_groups)]
    )
    epoch, batch, step = 0, 0, 0
    running = _Running(metrics)
    resume: dict | None = None
    if resume_from is not None:
        resume = load_checkpoint(resume_from, model, optimizer, scheduler)
        history = History.from_dict(resume["history"])
        epoch, batch, step = resume["epoch"], resume["batch"], resume["step"]
        running.load_state_dict(resume["running"])
        frozen = set(resume["frozen"])
        names = [n for n, _ in model.named_parameters()]
        if frozen:
            freeze(model, [n for n in names if n in frozen])
        unfreeze(model, [n for n in names if n not in frozen])
        saved_cbs = resume.get("callbacks", [])
        for cb, st in zip(callbacks, saved_cbs):
            if st is not None and hasattr(cb, "load_state_dict"):
                cb.load_state_dict(st)
    elif seed is not None:
        _seed_everything(seed)
    state = FitState(model, optimizer, scheduler, history, epoch=epoch, step=step, batch=batch)
    epoch_start_rng = None

    def write_checkpoint() -> None:
        save_checkpoint(
            checkpoint_path,
            model,
            optimizer,
            scheduler,
            epoch=epoch,
            batch=batch,
            step=step,
            running=running.state_dict(),
            rng=rng_state(gens),
            rng_epoch_start=epoch_start_rng if batch > 0 else None,
            history=history.to_dict(),
            frozen=[n for n, p in model.named_parameters() if not p.requires_grad],
            callbacks=[cb.state_dict() if hasattr(cb, "state_dict") else None for cb in callbacks],
        )

    def epoch_record(complete: bool) -> dict:
        record = {"epoch": epoch, "step": step, "complete": complete}
        record.update({f"train_{k}": v for k, v in running.means().items()})
        if val_loader is not None:
            scores = evaluate(model, val_loader, loss_fn=loss_fn, metrics=metrics, device=device)
            record.update({f"val_{k}": v for k, v in scores.items()})
        return record

    total = None if n_batches is None else epochs * n_batches
    if max_steps is not None:
        total = max_steps if total is None else min(total, max_steps)
    bar = tqdm(total=total, initial=step, disable=not progress, unit="step", desc="fit")
    stop_reason = None
    _call(callbacks, "on_fit_start", state)

    # ---- the loop -------------------------------------------------------------------------------
    try:
        while epoch < epochs and stop_reason is None:
            if max_steps is not None and step >= max_steps:
                stop_reason = "max_steps"
                break
            model.train()
            state.epoch = epoch
            if resume is not None and batch > 0:
                # Resume inside an epoch: replay its batch order, skip what was trained.
                epoch_start_rng = resume["rng_epoch_start"]
                set_rng_state(epoch_start_rng, gens)
                batches = iter(train_loader)
                for _ in range(batch):
                    next(batches)
                set_rng_state(resume["rng"], gens)
            else:
                if resume is not None:
                    set_rng_state(resume["rng"], gens)
                _call(callbacks, "on_epoch_start", state)
                epoch_start_rng = rng_state(gens)
                batches = iter(train_loader)
                batch, running = 0, _Running(metrics)
            resume = None

            for inputs, targets in batches:
                inputs, targets = _to_device(inputs, device), _to_device(targets, device)
                optimizer.zero_grad(set_to_none=True)
                outputs = model(inputs)
                loss = loss_fn(outputs, targets)
                loss_value = _to_float(loss.detach())
                history.record_step(loss_value, optimizer.param_groups)
                if not math.isfinite(loss_value):
                    history.diverged, history.diverged_at = True, step
                    stop_reason = "diverged"
                    warnings.warn(
                        f"diverged at step {step} (loss={loss_value}); training stopped",
                        RuntimeWarning,
                        stacklevel=2,
                    )
                    break
                loss.backward()
                optimizer.step()
                if scheduler is not None and scheduler_interval == "step":
                    scheduler.step()
                step, batch = step + 1, batch + 1
                with torch.no_grad():
                    values = {"loss": loss_value}
                    out = outputs.detach()
                    values.update({m: _to_float(fn(out, targets)) for m, fn in metrics.items()})
                running.add(_batch_size(targets), values)
                bar.update(1)
                bar.set_postfix(epoch=epoch, loss=f"{loss_value:.4g}", refresh=False)
                state.step, state.batch, state.loss = step, batch, loss_value
                _call(callbacks, "on_step_end", state)
                if checkpoint_every is not None and step % checkpoint_every == 0:
                    write_checkpoint()
                wants_stop = state.stop or (max_steps is not None and step >= max_steps)
                if wants_stop and batch != n_batches:
                    stop_reason = "callback" if state.stop else "max_steps"
                    break

            if stop_reason == "diverged":
                break
            if stop_reason is not None:  # stopped inside the epoch
                if checkpoint_path is not None:
                    write_checkpoint()
                history.record_epoch(epoch_record(complete=False))
                break

            record = epoch_record(complete=True)
            history.record_epoch(record)
            if scheduler is not None and scheduler_interval == "epoch":
                if is_plateau:
                    scheduler.step(record[monitor])
                else:
                    scheduler.step()
            epoch, batch = epoch + 1, 0
            state.epoch, state.batch = epoch, batch
            _call(callbacks, "on_epoch_end", state)
            if checkpoint_path is not None:
                write_checkpoint()
            if state.stop:
                stop_reason = "callback"
            elif max_steps is not None and step >= max_steps:
                stop_reason = "max_steps"
            if record.get("train_loss") is not None:
                bar.set_postfix(epoch=epoch, train_loss=f"{record['train_loss']:.4g}")
    finally:
        bar.close()
    history.stop_reason = stop_reason or "completed"
    _call(callbacks, "on_fit_end", state)
    return history
