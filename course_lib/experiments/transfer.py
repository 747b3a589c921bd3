"""The pure part of notebook 07's backbone-rate / head-rate explorer: a short differential fine-tune on the target task.

:func:`compute_transfer` is the pure part (unit-tested): it loads the shipped backbone with a fresh
head (:func:`course_lib.transfer.build_strategy` ``"differential"``), trains it on the shifted target
task with the backbone's peak rate :math:`\\gamma_b` and the head's :math:`\\gamma_h` (AdamW, one-cycle per
batch, :func:`course_lib.transfer.fine_tune`), and records the test accuracy before every epoch and
after the last. It never raises because of a rate, however large: a run is *diverged* when an epoch's mean
training loss is not finite or exceeds :data:`BLOWUP` times the chance-level loss :math:`\\ln 10`,
and *failed* when it diverged or ends no better than twice chance (test accuracy :math:`\\le 20\\%`);
the status line says which.

No ipywidgets or matplotlib here: ``course_lib.widgets.transfer.TransferExplorer`` is the widget,
``course_lib.plots.training.draw_transfer`` its figure.

    >>> r = compute_transfer(1e-3, 1e-2, epochs=3)
    >>> len(r.test_acc_per_epoch), r.diverged
    (4, False)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from course_lib._validation import check_int, check_number
from course_lib.data import TRANSFER_TARGET_N_TRAIN, transfer_target
from course_lib.transfer import build_strategy, fine_tune

__all__ = ["BLOWUP", "CHANCE_LOSS", "TransferReading", "compute_transfer"]

#: A run diverged when an epoch's mean training loss exceeds ``BLOWUP * ln(10)`` (chance level).
BLOWUP = 4.0
#: The loss of a uniform guess over the 10 classes, :math:`\\ln 10`.
CHANCE_LOSS = math.log(10)


@dataclass(frozen=True)
class TransferReading:
    """One short fine-tune of the pretrained CNN with rates :math:`(\\gamma_b, \\gamma_h)`.

    Attributes:
        backbone_lr, head_lr, epochs, seed: the settings.
        test_acc: final test accuracy.
        test_acc_per_epoch: test accuracy before each epoch and after the last (``epochs + 1``).
        train_loss: mean training loss of each epoch.
        diverged: a training loss was not finite or above ``BLOWUP * ln 10``.
        diverged_epoch: the first such epoch (``None`` if none).
        failed: diverged, or a final test accuracy of at most 20% (twice chance).
        status: one line for the widget.
    """

    backbone_lr: float
    head_lr: float
    epochs: int
    seed: int
    test_acc: float
    test_acc_per_epoch: list[float]
    train_loss: list[float]
    diverged: bool
    diverged_epoch: int | None
    failed: bool
    status: str


def _transfer_status(losses, diverged_epoch: int | None, acc, failed, epochs, rates) -> str:
    """The explorer's line: "diverged at epoch k", "did not learn", or the final test accuracy."""
    if diverged_epoch is not None:
        value = losses[diverged_epoch]
        what = "not finite" if not math.isfinite(value) else f"{value:.3g} > {BLOWUP:g} x ln 10"
        return (
            f"diverged at epoch {diverged_epoch} (training loss {what}); "
            f"final test accuracy {100 * acc:.1f}% ({rates})"
        )
    if failed:
        return f"did not learn: test accuracy {100 * acc:.1f}%, about chance ({rates})"
    return f"test accuracy {100 * acc:.1f}% after {epochs} epochs ({rates})"


def compute_transfer(
    backbone_lr: float = 1e-3,
    head_lr: float = 1e-2,
    *,
    epochs: int = 10,
    seed: int = 0,
    n_train: int = TRANSFER_TARGET_N_TRAIN,
) -> TransferReading:
    """Fine-tune the shipped backbone (rate :math:`\\gamma_b`) and a fresh head (rate :math:`\\gamma_h`).

    Args:
        backbone_lr: :math:`\\gamma_b`, the backbone's peak rate, > 0.
        head_lr: :math:`\\gamma_h`, the head's peak rate, > 0.
        epochs: passes over the labelled target examples, in [1, 100].
        seed: head initialisation, labelled subset, batch order and augmentation.
        n_train: labelled target examples, in [10, 4000]; with batches of 32, ``epochs *
            ceil(n_train / 32)`` must be at least 4 (the one-cycle warm-up needs a step), else
            ``ValueError``.

    Returns:
        A :class:`TransferReading`.

    Example:
        >>> compute_transfer(1.0, 1.0, epochs=4).failed
        True
    """
    check_number("backbone_lr", backbone_lr, low=0.0, low_inclusive=False)
    check_number("head_lr", head_lr, low=0.0, low_inclusive=False)
    check_int("epochs", epochs, low=1, high=100)
    check_int("seed", seed, low=0)
    check_int("n_train", n_train, low=10, high=4000)
    data = transfer_target(n_train, seed=seed)
    strategy = build_strategy(
        "differential", seed, lr=float(head_lr), backbone_lr=float(backbone_lr), epochs=epochs
    )
    run = fine_tune(strategy, data, seed=seed, epochs=epochs, track_test=True)
    losses = run.train_loss
    bad = [e for e, v in enumerate(losses) if not math.isfinite(v) or v > BLOWUP * CHANCE_LOSS]
    diverged_epoch = bad[0] if bad else None
    acc = run.test_acc
    failed = bool(bad) or not acc > 0.2
    rates = f"backbone lr {backbone_lr:.2g}, head lr {head_lr:.2g}"
    status = _transfer_status(losses, diverged_epoch, acc, failed, epochs, rates)
    return TransferReading(
        backbone_lr=float(backbone_lr),
        head_lr=float(head_lr),
        epochs=epochs,
        seed=seed,
        test_acc=acc,
        test_acc_per_epoch=list(run.test_acc_per_epoch),
        train_loss=list(losses),
        diverged=bool(bad),
        diverged_epoch=diverged_epoch,
        failed=failed,
        status=status,
    )
