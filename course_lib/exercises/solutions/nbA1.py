"""Answer key of notebook A1's coding exercise: a Keras schedule equal to torch's warm-up + decay.

The notebook's exercise cell starts from a skeleton; :class:`WarmupExponential` is one answer
that ``course_lib.exercises.nbA1.check_keras_warmup_exponential`` accepts
(``tests/test_exercises_nbA1.py`` runs it through the checker, next to the typical wrong versions).
Importing this module imports Keras on its torch backend. Learners: try the exercise first.

    >>> from course_lib.exercises import nbA1
    >>> nbA1.check_keras_warmup_exponential(WarmupExponential)  # doctest: +ELLIPSIS
    Correct: all 40 rates Keras's SGD took from your schedule equal torch's ...
    True
"""

from __future__ import annotations

from typing import Any

from course_lib.integrations.keras import keras_module

keras = keras_module()
_Schedule: Any = keras.optimizers.schedules.LearningRateSchedule  # a class made at run time

__all__ = ["WarmupExponential"]


class WarmupExponential(_Schedule):
    """Linear warm-up from :math:`0.1\\gamma` to :math:`\\gamma` over :math:`W` steps, then decay.

    :math:`\\gamma_t = \\gamma\\,(0.1 + 0.9\\,t/W)` for :math:`t < W` and
    :math:`\\gamma\\,q^{\\,t-W}` from :math:`t = W` on, with :math:`\\gamma` = ``peak``,
    :math:`W` = ``warmup_steps``, :math:`q` = ``gamma``: torch's
    ``SequentialLR([LinearLR(start_factor=0.1, total_iters=W), ExponentialLR(q)], milestones=[W])``.
    Keras calls it with the optimizer's step counter (an integer tensor).

        >>> schedule = WarmupExponential(peak=1.0, warmup_steps=2, gamma=0.5)
        >>> [round(float(schedule(t)), 3) for t in range(5)]
        [0.1, 0.55, 1.0, 0.5, 0.25]
    """

    def __init__(self, peak: float, warmup_steps: int, gamma: float):
        self.peak, self.warmup_steps, self.gamma = peak, warmup_steps, gamma

    def __call__(self, step):
        ops = keras.ops
        t = ops.cast(step, "float32")
        warm = self.peak * (0.1 + 0.9 * t / self.warmup_steps)
        decay = self.peak * ops.power(self.gamma, ops.maximum(t - self.warmup_steps, 0.0))
        return ops.where(t < self.warmup_steps, warm, decay)

    def get_config(self) -> dict:
        return {"peak": self.peak, "warmup_steps": self.warmup_steps, "gamma": self.gamma}
