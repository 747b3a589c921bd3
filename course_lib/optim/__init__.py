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
(``RuntimeError`` at the step), tensor ``betas``.

    >>> import torch
    >>> from course_lib.optim import SGD
    >>> w = torch.zeros(3, requires_grad=True)
    >>> opt = SGD([w], lr=0.1, momentum=0.9)
    >>> sorted(opt.param_groups[0])
    ['dampening', 'lr', 'maximize', 'momentum', 'nesterov', 'params', 'weight_decay']
"""

from course_lib.optim.adagrad import Adagrad
from course_lib.optim.adam import Adam
from course_lib.optim.adamw import AdamW
from course_lib.optim.nadam import NAdam
from course_lib.optim.rmsprop import RMSprop
from course_lib.optim.sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "NAdam", "RMSprop"]
