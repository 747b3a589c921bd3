"""Answer key for notebook 00's coding exercise (``nb00.check_train_one_epoch``).

Not imported by the notebook: the learner writes their own version; the tests run this one through
the check.
"""

from __future__ import annotations

__all__ = ["train_one_epoch"]


def train_one_epoch(model, optimizer, loader, loss_fn) -> float:
    """One epoch of the five lines; the mean loss over the examples,
    :math:`\\sum_b n_b L_b / \\sum_b n_b`.

    Example:
        >>> from course_lib.exercises import nb00
        >>> nb00.check_train_one_epoch(train_one_epoch)  # doctest: +ELLIPSIS
        Correct: ...
        True
    """
    model.train()  # dropout on (the model may come from an evaluation)
    total, count = 0.0, 0
    for x, y in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(y)
        count += len(y)
    return total / count
