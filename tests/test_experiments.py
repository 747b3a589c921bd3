"""course_lib.experiments: the explorers' compute without ipywidgets; the schedule catalogue is torch's.

Also the shells' shared contract: every explorer of ``course_lib.widgets`` is an ``Explorer`` and
shows its status HTML-escaped.
"""

import subprocess
import sys

import numpy as np
import pytest
import torch

from course_lib.experiments import schedules as xs
from course_lib.widgets import adaptive, gd, lr_finder, momentum, muon, schedules, transfer
from course_lib.widgets._base import Explorer

NO_WIDGETS = """
import importlib, pkgutil, sys
import course_lib.experiments, course_lib.plots
names = []
for package in (course_lib.experiments, course_lib.plots):
    for module in pkgutil.iter_modules(package.__path__):
        names.append(importlib.import_module(f"{package.__name__}.{module.name}").__name__)
print(len(names), "ipywidgets" in sys.modules, "matplotlib.pyplot" in sys.modules)
"""


def test_experiments_and_plots_import_without_ipywidgets_or_pyplot():
    out = subprocess.run(
        [sys.executable, "-c", NO_WIDGETS], capture_output=True, text=True, check=True
    ).stdout.split()
    assert int(out[0]) >= 11  # six experiments modules, five plots modules (all of them imported)
    assert out[1:] == ["False", "False"]


def _torch_rates(name: str, steps: int) -> tuple[np.ndarray, object]:
    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=123.0)
    scheduler = xs.make_torch_scheduler(name, opt, steps)
    rates = []
    for _ in range(steps):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        if scheduler is not None:
            scheduler.step()
    return np.array(rates), scheduler


@pytest.mark.parametrize("name", list(xs.SCHEDULE_CATALOGUE))
def test_every_catalogue_entry_is_its_torch_class_along_the_steps(name):
    spec = xs.SCHEDULE_CATALOGUE[name]
    steps = 120
    pure = xs.compute_schedule(name, steps)
    rates, scheduler = _torch_rates(name, steps)
    np.testing.assert_allclose(pure.values, rates, rtol=1e-10, atol=1e-15)
    if spec.torch_class is None:
        assert scheduler is None and np.all(rates == spec.defaults()[spec.base_param])
    else:
        assert type(scheduler) is spec.torch_class
        assert pure.torch_code.count(f"{spec.torch_class.__name__}(optimizer, ") == 1


@pytest.mark.parametrize(
    "name", [n for n, s in xs.SCHEDULE_CATALOGUE.items() if s.torch_class and not s.code]
)
def test_the_torch_line_writes_out_the_same_kwargs_the_scheduler_gets(name):
    spec = xs.SCHEDULE_CATALOGUE[name]
    params = spec.defaults()
    kwargs = spec.torch_kwargs(100, params, spec.build(100, **params))
    code = xs.torch_code(name, 100)
    assert all(f"{key}=" in code for key in kwargs), (code, kwargs)
    assert code.endswith(")") and code.count("=") == len(kwargs) + (spec.base_param is not None)


EXPLORERS = [
    gd.GDExplorer,
    momentum.MomentumExplorer,
    adaptive.RaceExplorer,
    adaptive.BiasCorrectionExplorer,
    schedules.ScheduleDesigner,
    lr_finder.LRFinderExplorer,
    transfer.TransferExplorer,
    muon.MuonExplorer,
]


@pytest.mark.parametrize("cls", EXPLORERS, ids=lambda c: c.__name__)
def test_every_explorer_is_an_explorer_and_escapes_its_status(cls, monkeypatch):
    assert issubclass(cls, Explorer)
    monkeypatch.setattr(cls, "compute", lambda self: None)  # no run: only the status path
    monkeypatch.setattr(cls, "describe", lambda self, result: ("x <b>& y", False))
    w = cls(draw=False)
    assert "x &lt;b&gt;&amp; y" in w.status.value and "<b>&" not in w.status.value
    assert w.status in w.children and w.figure in w.children
