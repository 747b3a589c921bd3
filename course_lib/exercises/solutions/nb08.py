"""Answer key for notebook 08's coding exercise (``nb08.check_range_test``).

Not imported by the notebook: the learner writes their own version; the tests run this one through
the check.
"""

from __future__ import annotations

import copy
import math

import torch.nn.functional as F

__all__ = ["range_test"]


def range_test(model, optimizer, loader, start_lr, end_lr, num_iter, beta=0.98):
    """The LR range test, returning ``(lrs, smoothed)``; the model and optimizer are restored.

    Step :math:`t` trains at :math:`\\gamma_t = \\gamma_0 (\\gamma_1/\\gamma_0)^{t/(T-1)}` and
    records :math:`\\tilde f_t = a_t / (1 - \\beta^{t+1})`,
    :math:`a_t = \\beta a_{t-1} + (1 - \\beta) f_t`; the sweep stops once
    :math:`\\tilde f_t > 4 \\min_{s \\le t} \\tilde f_s` (or a loss is not finite).

    Example:
        >>> from course_lib.exercises import nb08
        >>> nb08.check_range_test(range_test)  # doctest: +ELLIPSIS
        Correct: ...
        True
    """
    saved = copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())
    lrs, smoothed, avg, best = [], [], 0.0, math.inf
    batches = (batch for _ in range(num_iter) for batch in loader)  # restart the loader as needed
    for t, (x, y) in zip(range(num_iter), batches):
        lr = start_lr * (end_lr / start_lr) ** (t / (num_iter - 1))
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = F.cross_entropy(model(x), y)
        if not math.isfinite(loss.item()):
            break
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        avg = beta * avg + (1 - beta) * loss.item()
        lrs.append(lr)
        smoothed.append(avg / (1 - beta ** (t + 1)))
        best = min(best, smoothed[-1])
        if smoothed[-1] > 4 * best:
            break
    model.load_state_dict(saved[0])
    optimizer.load_state_dict(saved[1])
    return lrs, smoothed
