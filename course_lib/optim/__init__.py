"""Six optimizers that match ``torch.optim`` step for step, written to be read.

Each class subclasses ``torch.optim.Optimizer`` with torch's constructor arguments, defaults,
``param_groups`` keys and ``state`` names (minus torch's ``foreach``/``fused``/``capturable``/
``differentiable`` switches), so torch's schedulers, checkpoints and trainers work with them and a
``state_dict`` moves between ours and torch's in both directions. The update is a plain loop over the
parameters of each group, with the rule in the class docstring:

- :class:`SGD`      gradient descent, momentum, dampening, Nesterov (``sgd.py``)
- :class:`Adagrad`  running sum of squared gradients (``adagrad.py``)
- :class:`RMSprop`  running average of squared gradients, centered, momentum (``rmsprop.py``)
- :class:`Adam`     first and second moments with bias correction, AMSGrad (``adam.py``)
- :class:`AdamW`    Adam with decoupled weight decay (``adamw.py``)
- :class:`NAdam`    Adam with a Nesterov look-ahead and a momentum schedule (``nadam.py``)

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
from course_lib.optim.adagrad import Adagrad
from course_lib.optim.adam import Adam
from course_lib.optim.adamw import AdamW
from course_lib.optim.nadam import NAdam
from course_lib.optim.rmsprop import RMSprop
from course_lib.optim.sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "NAdam", "RMSprop", "by_name"]


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
        ValueError: name must be one of 'Adagrad', 'Adam', ... (any case), got 'Adamm'
    """
    classes = {
        n: obj
        for n, obj in globals().items()
        if isinstance(obj, type) and issubclass(obj, CourseOptimizer) and n in __all__
    }
    return check_name("name", name, classes)(params, **hyper)
