"""One optimizer step and one evaluation: the two pieces every training loop of the course shares.

:func:`train_step` is the five lines every notebook shows (minus the scheduler, which the loop
steps: per batch or per epoch is the loop's decision)::

    optimizer.zero_grad(set_to_none=True)  # forget the previous gradient
    loss = loss_fn(model(x), y)            # forward: the mean loss of the batch
    loss.backward()                        # backward: d loss / d theta into p.grad
    optimizer.step()                       # theta <- update(theta, grad, state)

:func:`accumulate_step` is the same step over a window of micro-batches (gradient accumulation), with
the options real training adds: clipping by global norm or by value, mixed precision
(``torch.autocast`` in bfloat16 or float16) and a ``torch.amp.GradScaler``; :func:`train_step` is
its window of one. :func:`evaluate` is the mean loss and metrics over batches, in eval mode,
without gradients.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from course_lib._validation import check_choice, check_number

__all__ = [
    "AUTOCAST_DTYPES",
    "RunningMeans",
    "StepResult",
    "accumulate_step",
    "accuracy",
    "batch_size",
    "batch_total",
    "check_batches",
    "check_step_options",
    "correct",
    "default_metrics",
    "evaluate",
    "finish_step",
    "micro_batch_loss",
    "model_device",
    "resolve_device",
    "to_device",
    "to_float",
    "train_step",
]


def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Fraction of rows whose largest logit is the target class: mean of ``argmax(outputs) == y``.

    Example:
        >>> accuracy(torch.tensor([[2.0, 1.0], [0.0, 3.0]]), torch.tensor([0, 0]))
        tensor(0.5000)
    """
    return (outputs.argmax(dim=1) == targets).float().mean()


def correct(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per example, whether the largest logit is the target class (a bool tensor, one per row).

    As a metric of :func:`evaluate` it is summed exactly (an integer count), then divided by the
    number of examples: accuracy :math:`\\frac1n \\sum_i [\\arg\\max_k f(x_i)_k = y_i]` with no
    rounding of per-batch means.

    Example:
        >>> correct(torch.tensor([[2.0, 1.0], [0.0, 3.0]]), torch.tensor([0, 0]))
        tensor([ True, False])
    """
    return outputs.argmax(dim=1) == targets


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


def to_float(value) -> float:
    """A Python float from a number or a one-element tensor.

    Example:
        >>> to_float(torch.tensor(0.5)), to_float(2)
        (0.5, 2.0)
    """
    return float(value.item() if isinstance(value, torch.Tensor) else value)


def to_device(obj, device: torch.device):
    """``obj`` with its tensors (also inside lists and tuples) moved to ``device``; others unchanged.

    Example:
        >>> to_device((torch.zeros(1), "label"), torch.device("cpu"))
        (tensor([0.]), 'label')
    """
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(o, device) for o in obj)
    return obj


def batch_size(targets) -> int:
    """Number of examples in a batch: the first dimension of ``targets`` (``len`` otherwise).

    Example:
        >>> batch_size(torch.zeros(7, 3))
        7
    """
    if isinstance(targets, torch.Tensor) and targets.ndim > 0:
        return int(targets.shape[0])
    return len(targets)


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (or buffer); CPU for a model with neither.

    Example:
        >>> model_device(nn.Linear(2, 1))
        device(type='cpu')
    """
    for t in model.parameters():
        return t.device
    for b in model.buffers():
        return b.device
    return torch.device("cpu")


def default_metrics(metrics, loss_fn) -> dict[str, Callable]:
    """Checked ``metrics``; ``None`` gives ``{"accuracy": accuracy}`` for cross-entropy, else ``{}``.

    Example:
        >>> sorted(default_metrics(None, F.cross_entropy)), default_metrics(None, F.mse_loss)
        (['accuracy'], {})
    """
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


def batch_total(value, n: int) -> float:
    """A batch's contribution to a sum over examples: ``value * n`` for a batch mean (a number or a
    0-d tensor), ``value.sum()`` for per-example values (a tensor with a batch axis).

    Example:
        >>> batch_total(0.5, 4), batch_total(torch.tensor([True, False, True]), 3)
        (2.0, 2)
    """
    if isinstance(value, torch.Tensor) and value.ndim > 0:
        return value.sum().item()
    return to_float(value) * n


class RunningMeans:
    """Batch-size-weighted sums of the loss and metrics: :math:`\\bar m = \\sum_b n_b m_b / \\sum_b n_b`.

    Example:
        >>> r = RunningMeans(["accuracy"]); r.add(2, {"loss": 1.0, "accuracy": 0.5})
        >>> r.add(1, {"loss": 4.0, "accuracy": 1.0}); r.means()
        {'loss': 2.0, 'accuracy': 0.6666666666666666}
    """

    def __init__(self, names: Iterable[str] = (), loss: bool = True):
        self.n = 0
        self.sums = {**({"loss": 0.0} if loss else {}), **{m: 0.0 for m in names}}

    def add(self, n: int, values: Mapping[str, float]) -> None:
        """Add one batch of ``n`` examples with its batch means ``values``."""
        self.n += n
        for k, v in values.items():
            self.sums[k] += v * n

    def add_totals(self, n: int, totals: Mapping[str, float]) -> None:
        """Add one batch of ``n`` examples with its sums over the batch ``totals``."""
        self.n += n
        for k, v in totals.items():
            self.sums[k] += v

    def means(self) -> dict[str, float]:
        """The weighted means (``nan`` before any batch)."""
        return {k: (s / self.n if self.n else math.nan) for k, s in self.sums.items()}

    def state_dict(self) -> dict:
        """Plain copy for checkpoints."""
        return {"n": self.n, "sums": dict(self.sums)}

    def load_state_dict(self, d: Mapping) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.n, self.sums = int(d["n"]), dict(d["sums"])


@dataclass(frozen=True)
class StepResult:
    """What :func:`train_step` / :func:`accumulate_step` did.

    ``loss``: the loss as a float (over a window of micro-batches, their mean
    :math:`\\sum_b \\frac{n_b}{N} L_b`); ``outputs``: the model's outputs, detached (the micro-batches'
    concatenated); ``finite``: ``False`` when a loss was not finite and no update was made;
    ``skipped``: the ``GradScaler`` skipped ``optimizer.step()`` (inf/nan gradients); ``grad_norm``:
    the total 2-norm of the gradient before clipping, unscaled (only with ``max_grad_norm``; inf or
    nan for a skipped step).
    """

    loss: float
    outputs: torch.Tensor
    finite: bool
    skipped: bool = False
    grad_norm: float | None = None


#: the dtypes ``autocast_dtype`` accepts (``None``: no autocast)
AUTOCAST_DTYPES = (None, torch.bfloat16, torch.float16)


def check_step_options(max_grad_norm, clip_grad_value, autocast_dtype, scaler) -> None:
    """Checks of the options shared by :func:`train_step`, :func:`accumulate_step` and ``fit``.

    Example:
        >>> check_step_options(-1.0, None, None, None)
        Traceback (most recent call last):
        ...
        ValueError: max_grad_norm must be a finite number > 0, got -1.0
    """
    for name, value in (("max_grad_norm", max_grad_norm), ("clip_grad_value", clip_grad_value)):
        if value is not None:
            check_number(name, value, low=0.0, low_inclusive=False)
    if not any(autocast_dtype is d for d in AUTOCAST_DTYPES):
        check_choice("autocast_dtype", autocast_dtype, AUTOCAST_DTYPES)
    if scaler is not None and not isinstance(scaler, torch.amp.GradScaler):
        raise TypeError(
            f"scaler must be a torch.amp.GradScaler or None, got {type(scaler).__name__}"
        )


def check_batches(batches) -> list:
    """``batches`` checked: a non-empty list of ``(inputs, targets)`` pairs."""
    if not isinstance(batches, list):
        raise TypeError(
            "batches must be a list of (inputs, targets) micro-batches, got "
            f"{type(batches).__name__}"
        )
    if not batches:
        raise ValueError("batches must hold at least one (inputs, targets) micro-batch, got []")
    for i, pair in enumerate(batches):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"batches[{i}] must be a pair (inputs, targets), got {pair!r}")
    return batches


def micro_batch_loss(model, inputs, targets, loss_fn, penalty, autocast_dtype):
    """``(outputs, L)``: the forward (under ``torch.autocast`` when ``autocast_dtype``) and the loss
    :math:`L = \\ell(\\text{outputs}, y)` ``+ penalty(model)``."""
    if autocast_dtype is None:
        outputs = model(inputs)
        loss = loss_fn(outputs, targets)
    else:
        with torch.autocast(device_type=model_device(model).type, dtype=autocast_dtype):
            outputs = model(inputs)
            loss = loss_fn(outputs, targets)
    if penalty is not None:
        loss = loss + penalty(model)
    return outputs, loss


def finish_step(optimizer, max_grad_norm, clip_grad_value, scaler) -> tuple[float | None, bool]:
    """After the backward passes: unscale, clip, step. Returns ``(grad_norm, skipped)``.

    With a scaler, ``scaler.unscale_(optimizer)`` first, so that clipping sees the true gradient
    :math:`g` and not :math:`S g` (a threshold on :math:`S g` would clip :math:`S` times too hard).
    ``skipped`` is read from the scale: ``update()`` multiplies it by ``backoff_factor < 1`` exactly
    when ``unscale_`` found an inf/nan, which is exactly when ``scaler.step`` skipped
    ``optimizer.step()``; otherwise it stays or grows by ``growth_factor > 1``.
    """
    if scaler is not None:
        scaler.unscale_(optimizer)
    params = [p for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
    grad_norm = None
    if max_grad_norm is not None:
        total = torch.nn.utils.clip_grad_norm_(params, max_grad_norm, error_if_nonfinite=False)
        grad_norm = to_float(total)
    if clip_grad_value is not None:
        torch.nn.utils.clip_grad_value_(params, clip_grad_value)
    if scaler is None:
        optimizer.step()
        return grad_norm, False
    before = scaler.get_scale()
    scaler.step(optimizer)
    scaler.update()
    return grad_norm, scaler.get_scale() < before


def accumulate_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: list,
    *,
    loss_fn: Callable = F.cross_entropy,
    penalty: Callable[[nn.Module], torch.Tensor] | None = None,
    check_finite: bool = True,
    max_grad_norm: float | None = None,
    clip_grad_value: float | None = None,
    autocast_dtype: torch.dtype | None = None,
    scaler: torch.amp.GradScaler | None = None,
) -> StepResult:
    """One optimizer step on a window of micro-batches whose gradient is that of their mean loss.

    Micro-batch :math:`b` holds :math:`n_b` examples, :math:`N = \\sum_b n_b`, and has the mean loss
    :math:`L_b` (``+ penalty(model)``). Its backward is that of :math:`\\frac{n_b}{N} L_b`, so the
    accumulated gradient is

    .. math:: g = \\sum_b \\frac{n_b}{N} \\nabla_\\theta L_b
              = \\nabla_\\theta \\frac1N \\sum_{i=1}^{N} \\ell_i ,

    the gradient of the whole window as one batch (the penalty counts once: the weights sum to 1).
    Dividing each :math:`L_b` by the number of micro-batches :math:`k` instead is right only when all
    :math:`n_b` are equal: a short micro-batch would weigh as much as a full one. The :math:`n_b` are
    counted before the first backward (all micro-batches are given at once).

    In this order: ``optimizer.zero_grad(set_to_none=True)``; per micro-batch the forward (inside
    ``torch.autocast(device_type, dtype=autocast_dtype)`` when given), the loss, its value (a
    non-finite one with ``check_finite`` stops everything: no backward of it, no step,
    ``finite=False``), the backward of :math:`\\frac{n_b}{N} L_b` (through ``scaler.scale`` with a
    scaler: :math:`S \\frac{n_b}{N} L_b`); then ``scaler.unscale_(optimizer)``, clipping by norm
    (``clip_grad_norm_``: :math:`g \\leftarrow g \\min(1, c / \\lVert g \\rVert_2)`), by value
    (``clip_grad_value_``: each entry into :math:`[-c, c]`), and ``scaler.step`` + ``scaler.update``
    or ``optimizer.step()``. See :func:`finish_step` for the order and ``skipped``.

    Args:
        model, optimizer: as for :func:`train_step`.
        batches: a non-empty list of ``(inputs, targets)`` pairs, already on the model's device.
        loss_fn: ``loss_fn(outputs, targets)`` returning the micro-batch mean.
        penalty: ``penalty(model)`` added to every micro-batch loss (so once to their mean).
        check_finite: stop before the backward of a non-finite loss.
        max_grad_norm: clip the gradient's total 2-norm to this (> 0); also records ``grad_norm``.
        clip_grad_value: clip every gradient entry into ``[-clip_grad_value, clip_grad_value]``.
        autocast_dtype: ``torch.bfloat16`` or ``torch.float16`` for mixed precision; ``None``: off.
        scaler: a ``torch.amp.GradScaler`` (for float16), or ``None``.

    Example:
        >>> model = nn.Linear(2, 2); opt = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> x, y = torch.ones(5, 2), torch.tensor([0, 1, 0, 1, 1])
        >>> r = accumulate_step(model, opt, [(x[:3], y[:3]), (x[3:], y[3:])], max_grad_norm=1.0)
        >>> r.finite, r.skipped, r.outputs.shape, r.grad_norm is not None
        (True, False, torch.Size([5, 2]), True)
    """
    check_batches(batches)
    check_step_options(max_grad_norm, clip_grad_value, autocast_dtype, scaler)
    sizes = [batch_size(targets) for _, targets in batches]
    total, single = sum(sizes), len(batches) == 1
    if not single and total == 0:
        raise ValueError("batches must hold at least one example, got micro-batches of size 0")
    optimizer.zero_grad(set_to_none=True)
    outputs, mean, finite = [], 0.0, True
    for (inputs, targets), n in zip(batches, sizes):
        out, loss = micro_batch_loss(model, inputs, targets, loss_fn, penalty, autocast_dtype)
        outputs.append(out.detach())
        value = to_float(loss.detach())
        mean = value if single else mean + n / total * value
        finite = finite and math.isfinite(value)
        if check_finite and not finite:
            return StepResult(mean, outputs[0] if single else torch.cat(outputs), False)
        weighted = loss if single else loss * (n / total)
        (weighted if scaler is None else scaler.scale(weighted)).backward()
    grad_norm, skipped = finish_step(optimizer, max_grad_norm, clip_grad_value, scaler)
    return StepResult(
        mean, outputs[0] if single else torch.cat(outputs), finite, skipped, grad_norm
    )


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    inputs,
    targets,
    *,
    loss_fn: Callable = F.cross_entropy,
    penalty: Callable[[nn.Module], torch.Tensor] | None = None,
    check_finite: bool = True,
    max_grad_norm: float | None = None,
    clip_grad_value: float | None = None,
    autocast_dtype: torch.dtype | None = None,
    scaler: torch.amp.GradScaler | None = None,
) -> StepResult:
    """One optimizer step on one batch: ``zero_grad``, forward, loss, ``backward``, ``step``.

    In this order: ``optimizer.zero_grad(set_to_none=True)``, ``outputs = model(inputs)``,
    :math:`L = \\ell(\\text{outputs}, y)` ``+ penalty(model)`` when given, ``loss_value =
    float(L)``; then, unless ``check_finite`` and ``loss_value`` is ``nan``/``inf`` (then nothing
    more: no backward, no update), ``L.backward()`` and ``optimizer.step()``:
    :math:`\\theta \\leftarrow \\mathrm{update}(\\theta, \\nabla_\\theta L)` (with learning rate
    :math:`\\gamma` of each group). It does not step a scheduler, move data or set train mode: the
    caller does (batches must already be on the model's device).

    It is ``accumulate_step(model, optimizer, [(inputs, targets)], ...)``: the options
    (``max_grad_norm``, ``clip_grad_value``, ``autocast_dtype``, ``scaler``) are described there;
    with them off, the five lines above and nothing else.

    Example:
        >>> model = nn.Linear(2, 2); opt = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> r = train_step(model, opt, torch.ones(3, 2), torch.tensor([0, 1, 0]))
        >>> r.finite, r.outputs.shape
        (True, torch.Size([3, 2]))
    """
    return accumulate_step(
        model,
        optimizer,
        [(inputs, targets)],
        loss_fn=loss_fn,
        penalty=penalty,
        check_finite=check_finite,
        max_grad_norm=max_grad_norm,
        clip_grad_value=clip_grad_value,
        autocast_dtype=autocast_dtype,
        scaler=scaler,
    )


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader,
    *,
    loss_fn: Callable | None = F.cross_entropy,
    metrics: Mapping[str, Callable] | None = None,
    device=None,
) -> dict[str, float]:
    """Mean loss and metrics of ``model`` over ``loader``, in eval mode, without gradients.

    Means are weighted by batch size, :math:`\\bar L = \\sum_b n_b L_b / \\sum_b n_b`, so a short last
    batch counts for what it holds. A metric that returns one value per example (like
    :func:`correct`) is summed instead, :math:`\\frac1n \\sum_i m_i`. The model's train/eval mode is
    restored afterwards.

    Args:
        model: the model (moved to nothing; batches go to ``device``).
        loader: iterable of ``(inputs, targets)`` batches (a ``DataLoader``, or ``[(x, y)]``).
        loss_fn: ``loss_fn(outputs, targets)`` returning the batch mean; ``None``: no loss.
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
    metrics = default_metrics(metrics, loss_fn)
    device = model_device(model) if device is None else resolve_device(device)
    was_training = model.training
    model.eval()
    running = RunningMeans(metrics, loss=loss_fn is not None)
    try:
        for inputs, targets in loader:
            inputs, targets = to_device(inputs, device), to_device(targets, device)
            outputs = model(inputs)
            n = batch_size(targets)
            fns = {**({"loss": loss_fn} if loss_fn is not None else {}), **metrics}
            running.add_totals(
                n, {m: batch_total(fn(outputs, targets), n) for m, fn in fns.items()}
            )
    finally:
        model.train(was_training)
    return running.means()
