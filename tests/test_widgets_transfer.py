"""Notebook 07's backbone-lr / head-lr explorer: the compute function and the widget shell."""

import math

import ipywidgets as widgets
import pytest

from course_lib.experiments import transfer as xt
from course_lib.plots import training as pt
from course_lib.widgets import transfer as wt


def test_recipe_rates_fine_tune_well_and_record_a_curve():
    r = xt.compute_transfer(1e-3, 1e-2, epochs=4)
    assert not r.diverged and not r.failed and r.diverged_epoch is None
    assert len(r.test_acc_per_epoch) == 5 and len(r.train_loss) == 4
    assert r.test_acc == r.test_acc_per_epoch[-1] > 0.5
    assert r.status.startswith("test accuracy") and "after 4 epochs" in r.status


def test_huge_rates_are_reported_as_diverged_not_raised():
    r = xt.compute_transfer(10.0, 10.0, epochs=3)
    assert r.diverged and r.failed and r.diverged_epoch == 0
    assert r.train_loss[0] > xt.BLOWUP * math.log(10) or not math.isfinite(r.train_loss[0])
    assert r.status.startswith("diverged at epoch 0")


def test_a_backbone_rate_far_too_high_ends_at_chance():
    r = xt.compute_transfer(1.0, 1e-2, epochs=4)
    assert r.failed and r.test_acc < 0.2
    assert "diverged" in r.status or r.status.startswith("did not learn")


def test_compute_transfer_is_deterministic_for_a_seed():
    a = xt.compute_transfer(1e-3, 1e-2, epochs=2, seed=1)
    b = xt.compute_transfer(1e-3, 1e-2, epochs=2, seed=1)
    assert a == b


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"backbone_lr": 0.0}, ValueError, "backbone_lr must be a finite number > 0"),
        ({"head_lr": float("nan")}, ValueError, "head_lr"),
        ({"head_lr": "0.1"}, TypeError, "head_lr"),
        ({"epochs": 0}, ValueError, "epochs"),
        ({"n_train": 5}, ValueError, "n_train"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, error, text):
    with pytest.raises(error, match=text):
        xt.compute_transfer(**kwargs)


def test_explorer_recomputes_when_a_slider_moves():
    w = wt.TransferExplorer(epochs=2, draw=False)
    assert list(w.children[:3]) == [w.backbone_lr_slider, w.head_lr_slider, w.epochs_slider]
    first = w.result
    w.children[1].value = 3e-2
    assert math.isclose(w.result.head_lr, 3e-2, rel_tol=1e-9) and w.result != first
    w.epochs_slider.value = 3
    assert w.result.epochs == 3 and len(w.result.test_acc_per_epoch) == 4
    assert "test accuracy" in w.status.value


def test_explorer_shows_the_figure_as_png_in_an_image_widget():
    w = wt.TransferExplorer(epochs=1)
    assert isinstance(w.figure, widgets.Image) and w.figure.value[:4] == b"\x89PNG"
    assert not any(isinstance(c, widgets.Output) for c in w.children)


def test_explorer_never_raises_and_shows_the_error(monkeypatch):
    w = wt.TransferExplorer(epochs=1, draw=False)

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(wt, "compute_transfer", broken)
    w.head_lr_slider.value = 1e-1
    assert w.result is None and "RuntimeError: boom" in w.status.value


def test_explorer_rejects_bad_initial_values():
    with pytest.raises(ValueError, match="epochs"):
        wt.TransferExplorer(epochs=31, draw=False)
    with pytest.raises(ValueError, match="head_lr"):
        wt.TransferExplorer(head_lr=100.0, draw=False)


def test_draw_transfer_plots_accuracy_and_loss():
    import matplotlib.pyplot as plt

    fig = pt.draw_transfer(xt.compute_transfer(10.0, 10.0, epochs=2))
    assert len(fig.axes) == 2 and fig.axes[1].get_yscale() == "log"
    plt.close(fig)
