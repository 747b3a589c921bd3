"""Backbone-rate / head-rate explorer of notebook 07: a short differential fine-tune on the target task.

:func:`compute_transfer` is the pure part (unit-tested): it loads the shipped backbone with a fresh
head (:func:`course_lib.transfer.build_strategy` ``"differential"``), trains it on the shifted target
task with the backbone's peak rate :math:`\\gamma_b` and the head's :math:`\\gamma_h` (AdamW, one-cycle per
batch, :func:`course_lib.transfer.fine_tune`), and records the test accuracy before every epoch and
after the last. It never raises because of a bad setting: a run is *diverged* when an epoch's mean
training loss is not finite or exceeds :data:`BLOWUP` times the chance-level loss :math:`\\ln 10`,
and *failed* when it diverged or ends no better than twice chance (test accuracy :math:`\\le 20\\%`);
the status line says which.

:class:`TransferExplorer` is the ipywidgets shell: two log-scale sliders (:math:`\\gamma_b`,
:math:`\\gamma_h`), an epochs slider, a status line and the test-accuracy curve (PNG in an ``Image``).

    >>> r = compute_transfer(1e-3, 1e-2, epochs=3)
    >>> len(r.test_acc_per_epoch), r.diverged
    (4, False)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ipywidgets as widgets

from course_lib._validation import check_bool, check_int, check_number
from course_lib.data import TRANSFER_TARGET_N_TRAIN, transfer_target
from course_lib.transfer import build_strategy, fine_tune
from course_lib.widgets._base import Explorer

__all__ = ["BLOWUP", "TransferExplorer", "TransferReading", "compute_transfer", "draw_transfer"]

#: A run diverged when an epoch's mean training loss exceeds ``BLOWUP * ln(10)`` (chance level).
BLOWUP = 4.0
_CHANCE_LOSS = math.log(10)


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
        n_train: labelled target examples, in [10, 4000].

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
    bad = [e for e, v in enumerate(losses) if not math.isfinite(v) or v > BLOWUP * _CHANCE_LOSS]
    diverged_epoch = bad[0] if bad else None
    acc = run.test_acc
    failed = bool(bad) or not acc > 0.2
    rates = f"backbone lr {backbone_lr:.2g}, head lr {head_lr:.2g}"
    if bad:
        value = losses[diverged_epoch]
        what = "not finite" if not math.isfinite(value) else f"{value:.3g} > {BLOWUP:g} x ln 10"
        status = (
            f"diverged at epoch {diverged_epoch} (training loss {what}); "
            f"final test accuracy {100 * acc:.1f}% ({rates})"
        )
    elif failed:
        status = f"did not learn: test accuracy {100 * acc:.1f}%, about chance ({rates})"
    else:
        status = f"test accuracy {100 * acc:.1f}% after {epochs} epochs ({rates})"
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


def draw_transfer(reading: TransferReading, axes=None):
    """Plot a reading: test accuracy per epoch, and the training loss per epoch (log axis).

    Returns:
        The matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    else:
        fig = axes[0].figure
    colour = "tab:red" if reading.failed else "tab:blue"
    axes[0].plot(range(len(reading.test_acc_per_epoch)), reading.test_acc_per_epoch, "o-", c=colour)
    axes[0].axhline(0.1, color="gray", lw=1, ls=":", label="chance")
    axes[0].set(xlabel="epoch", ylabel="test accuracy", ylim=(0, 1), title="target test accuracy")
    axes[0].legend(fontsize=8)
    finite = [v if math.isfinite(v) else float("nan") for v in reading.train_loss]
    axes[1].plot(range(len(finite)), finite, "o-", c=colour)
    axes[1].axhline(_CHANCE_LOSS, color="gray", lw=1, ls=":", label="ln 10 (chance)")
    axes[1].set(xlabel="epoch", ylabel="mean training loss", yscale="log", title="training loss")
    axes[1].legend(fontsize=8)
    fig.suptitle(f"γ_b = {reading.backbone_lr:.2g}, γ_h = {reading.head_lr:.2g}", fontsize=10)
    fig.tight_layout()
    return fig


class TransferExplorer(Explorer):
    """Two log-scale sliders (backbone rate, head rate) and an epochs slider; reruns a short fine-tune.

    Children (in order, also named attributes): ``backbone_lr_slider``, ``head_lr_slider``,
    ``epochs_slider``, ``status`` (HTML), ``figure`` (an ``Image`` holding the PNG of the plot).
    ``result`` holds the latest :class:`TransferReading` (``None`` if the last computation raised;
    the status then shows the error instead).

    Args:
        backbone_lr, head_lr: initial rates, in [1e-5, 10].
        epochs: initial epochs, in [1, 30].
        seed: the run's seed.
        draw: draw the figure (tests switch it off).

    Example:
        >>> w = TransferExplorer(epochs=2, draw=False)
        >>> w.head_lr_slider.value = 3e-2
        >>> round(w.result.head_lr, 3)
        0.03
    """

    def __init__(
        self,
        backbone_lr: float = 1e-3,
        head_lr: float = 1e-2,
        epochs: int = 10,
        *,
        seed: int = 0,
        draw: bool = True,
    ) -> None:
        check_number("backbone_lr", backbone_lr, low=1e-5, high=10.0)
        check_number("head_lr", head_lr, low=1e-5, high=10.0)
        check_int("epochs", epochs, low=1, high=30)
        check_int("seed", seed, low=0)
        check_bool("draw", draw)
        self.seed = seed
        style = {"description_width": "100px"}
        common = {"base": 10, "min": -5, "max": 1, "step": 0.25, "continuous_update": False}
        self.backbone_lr_slider = widgets.FloatLogSlider(
            value=backbone_lr,
            description="backbone lr",
            readout_format=".1e",
            style=style,
            **common,
        )
        self.head_lr_slider = widgets.FloatLogSlider(
            value=head_lr, description="head lr", readout_format=".1e", style=style, **common
        )
        self.epochs_slider = widgets.IntSlider(
            value=epochs, min=1, max=30, description="epochs", continuous_update=False, style=style
        )
        controls = [self.backbone_lr_slider, self.head_lr_slider, self.epochs_slider]
        self._build(controls, draw=draw)

    def compute(self) -> TransferReading:
        return compute_transfer(
            self.backbone_lr_slider.value,
            self.head_lr_slider.value,
            epochs=self.epochs_slider.value,
            seed=self.seed,
        )

    def describe(self, result: TransferReading) -> tuple[str, bool]:
        return result.status, not result.failed

    def draw(self, result: TransferReading):
        return draw_transfer(result)
