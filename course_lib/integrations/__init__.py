r"""Bridges to other frameworks, for the appendices: Keras 3 (A1), Lightning and Optuna (A2).

Three modules, one per framework, and one they share:

- :mod:`course_lib.integrations.keras`: Keras on its torch backend beside torch (A1): a quadratic
  problem, iterates and learning-rate curves from both frameworks, the same MLP in both.
- :mod:`course_lib.integrations.lightning`: ``CourseLitModule`` (course_lib groups, optimizers and
  schedulers in ``configure_optimizers``), ``LRRecorder``, ``OptunaPruning``, ``quiet_trainer`` (A2).
- :mod:`course_lib.integrations.optuna`: ``train_mnist1d`` (one configuration, on
  ``course_lib.training``'s ``train_step`` and ``evaluate``), ``MNIST1DObjective`` and
  ``report_to_trial`` (A2).
- :mod:`course_lib.integrations.common`: ``make_scheduler`` and ``tensor_loader``, which need
  neither framework.

Every public name of the four is available here, as ``course_lib.integrations.<name>``.
``import course_lib.integrations`` imports neither Keras, Lightning nor Optuna: the ``keras`` module
imports Keras inside the functions that use it, and the ``lightning`` and ``optuna`` modules are
imported on first access to one of their names (PEP 562 ``__getattr__``), so the Keras appendix never
pays for Lightning.

    >>> import sys
    >>> from course_lib import integrations as ci
    >>> ci.Quadratic.default()(torch.zeros(2))
    tensor([-1.,  2.])
    >>> ci.CourseLitModule.__module__
    'course_lib.integrations.lightning'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import torch  # noqa: F401 - the doctests above use it

from course_lib.integrations.common import (
    SCHEDULER_NAMES,
    is_plateau,
    make_scheduler,
    tensor_loader,
)
from course_lib.integrations.keras import (
    Quadratic,
    keras_iterates,
    keras_lr_curve,
    keras_mlp,
    keras_module,
    max_weight_difference,
    plateau_lrs,
    torch_iterates,
    torch_lr_curve,
    torch_mlp_from_keras,
)

if TYPE_CHECKING:
    from course_lib.integrations.lightning import (
        CourseLitModule,
        LRRecorder,
        OptunaPruning,
        quiet_trainer,
    )
    from course_lib.integrations.optuna import (
        MNIST1D_OPTIMIZERS,
        MNIST1D_SCHEDULES,
        MNIST1DObjective,
        TrainResult,
        report_to_trial,
        train_mnist1d,
    )

#: The names served on first access, and the module (which imports its framework) that defines each.
_LAZY = {
    "CourseLitModule": "lightning",
    "LRRecorder": "lightning",
    "quiet_trainer": "lightning",
    "MNIST1D_OPTIMIZERS": "optuna",
    "MNIST1D_SCHEDULES": "optuna",
    "MNIST1DObjective": "optuna",
    "OptunaPruning": "lightning",
    "TrainResult": "optuna",
    "report_to_trial": "optuna",
    "train_mnist1d": "optuna",
}

__all__ = [
    "MNIST1D_OPTIMIZERS",
    "MNIST1D_SCHEDULES",
    "SCHEDULER_NAMES",
    "CourseLitModule",
    "LRRecorder",
    "MNIST1DObjective",
    "OptunaPruning",
    "Quadratic",
    "TrainResult",
    "is_plateau",
    "keras_iterates",
    "keras_lr_curve",
    "keras_mlp",
    "keras_module",
    "make_scheduler",
    "max_weight_difference",
    "plateau_lrs",
    "quiet_trainer",
    "report_to_trial",
    "tensor_loader",
    "torch_iterates",
    "torch_lr_curve",
    "torch_mlp_from_keras",
    "train_mnist1d",
]


def __getattr__(name: str) -> Any:
    """A name of the ``lightning`` or ``optuna`` module, imported on first access (PEP 562)."""
    if name in _LAZY:
        module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
