"""Optimizers written to be read: torch.optim's, step for step, and five that torch lacks.

Each class subclasses ``torch.optim.Optimizer`` with torch's constructor arguments, defaults,
``param_groups`` keys and ``state`` names (minus torch's ``fused``/``capturable``/``differentiable``
switches, and ``foreach`` except for SGD, Adam and AdamW), so torch's schedulers, checkpoints and
trainers work with them and a ``state_dict`` moves between ours and torch's in both directions. The
update is a plain loop over the parameters of each group, with the rule in the class docstring, one
file per optimizer. SGD, Adam and AdamW also have the multi-tensor path of ``foreach.py`` (the same
rule with one ``torch._foreach_*`` call per list of tensors), chosen by ``foreach`` as in torch:
None (the default) takes it on CUDA tensors and the loop on CPU tensors, True or False forces it.

Equal to ``torch.optim`` bit for bit (tests/test_optim_db.py runs torch's sample and error inputs):

- :class:`SGD`       gradient descent, momentum, dampening, Nesterov (``sgd.py``)
- :class:`Adagrad`   running sum of squared gradients (``adagrad.py``)
- :class:`RMSprop`   running average of squared gradients, centered, momentum (``rmsprop.py``)
- :class:`Adadelta`  RMSprop scaled by the RMS of past steps: no rate to pick (``adadelta.py``)
- :class:`Adam`      first and second moments with bias correction, AMSGrad (``adam.py``)
- :class:`AdamW`     Adam with decoupled weight decay (``adamw.py``)
- :class:`Adamax`    Adam with the infinity norm in place of the second moment (``adamax.py``)
- :class:`NAdam`     Adam with a Nesterov look-ahead and a momentum schedule (``nadam.py``)
- :class:`RAdam`     Adam with the variance rectification that replaces warm-up (``radam.py``)
- :class:`Adafactor` factored second moment: row and column averages for matrices (``adafactor.py``)
- :class:`Muon`      momentum orthogonalised by Newton-Schulz, 2-D weights only (``muon.py``)
- :class:`LBFGS`     quasi-Newton with a closure and a strong-Wolfe line search (``lbfgs.py``,
  ``line_search.py``)

Not in torch, each equal at every step to an independent pinned package
(tests/test_optim_reference.py, tests/test_optim_schedule_free.py):

- :class:`Lion`      the sign of an interpolated momentum (``lion.py``; lion-pytorch)
- :class:`Yogi`      Adam with an additive second-moment update (``yogi.py``; pytorch-optimizer)
- :class:`Lamb`      Adam with a layer-wise trust ratio (``lamb.py``; pytorch-optimizer)
- :class:`LARS`      SGD with momentum and a layer-wise trust ratio (``lars.py``; pytorch-optimizer)
- :class:`AdamWScheduleFree` AdamW averaging its iterates instead of a schedule
  (``schedule_free.py``; schedulefree)

Not supported: complex or integer parameters (``TypeError`` at construction), sparse gradients
(``RuntimeError`` at the step), tensor ``betas``; every deliberate difference from torch is in
``docs/differences.md``. :func:`by_name` builds any of them from torch's class name.

    >>> import torch
    >>> from course_lib.optim import SGD
    >>> w = torch.zeros(3, requires_grad=True)
    >>> opt = SGD([w], lr=0.1, momentum=0.9)
    >>> sorted(opt.param_groups[0])
    ['dampening', 'lr', 'maximize', 'momentum', 'nesterov', 'params', 'weight_decay']
"""

from course_lib._validation import check_name
from course_lib.optim._base import CourseOptimizer
from course_lib.optim.adadelta import Adadelta
from course_lib.optim.adafactor import Adafactor
from course_lib.optim.adagrad import Adagrad
from course_lib.optim.adam import Adam
from course_lib.optim.adamax import Adamax
from course_lib.optim.adamw import AdamW
from course_lib.optim.lamb import Lamb
from course_lib.optim.lars import LARS
from course_lib.optim.lbfgs import LBFGS
from course_lib.optim.lion import Lion
from course_lib.optim.muon import Muon
from course_lib.optim.nadam import NAdam
from course_lib.optim.radam import RAdam
from course_lib.optim.rmsprop import RMSprop
from course_lib.optim.schedule_free import AdamWScheduleFree
from course_lib.optim.sgd import SGD
from course_lib.optim.yogi import Yogi

__all__ = [
    "LARS",
    "LBFGS",
    "SGD",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "AdamWScheduleFree",
    "Adamax",
    "Lamb",
    "Lion",
    "Muon",
    "NAdam",
    "RAdam",
    "RMSprop",
    "Yogi",
    "by_name",
]


def by_name(name: str, params, **hyper) -> CourseOptimizer:
    """The course optimizer called ``name`` (torch's class name, any case), built on ``params``.

    ``hyper`` are the constructor's keyword arguments (torch's names):

        >>> import torch
        >>> w = torch.zeros(2, requires_grad=True)
        >>> by_name("adamw", [w], lr=0.1).defaults["weight_decay"]
        0.01
        >>> by_name("Adamm", [w])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: name must be one of 'Adadelta', 'Adafactor', ... (any case), got 'Adamm'
    """
    classes = {
        n: obj
        for n, obj in globals().items()
        if isinstance(obj, type) and issubclass(obj, CourseOptimizer) and n in __all__
    }
    return check_name("name", name, classes)(params, **hyper)
