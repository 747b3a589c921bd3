"""The course's training loop: ``fit`` with a progress bar, a history, schedulers, divergence, checkpoints.

A small package; everything public is importable from ``course_lib.training``:

- :mod:`~course_lib.training.step`: :func:`train_step` (one optimizer step) and :func:`evaluate`
  (mean loss and metrics in eval mode), the two pieces every loop of the course is built on;
- :mod:`~course_lib.training.history`: :class:`History` and :class:`FitState`;
- :mod:`~course_lib.training.rng`: :func:`rng_state`, :func:`set_rng_state`, :func:`loader_generators`,
  :func:`seed_everything`;
- :mod:`~course_lib.training.checkpoint`: :func:`atomic_save`, :func:`save_checkpoint`,
  :func:`load_checkpoint`;
- :mod:`~course_lib.training.loop`: :func:`fit` and its named parts.

One optimizer step is the five lines every notebook shows::

    optimizer.zero_grad()                 # forget the previous gradient
    loss = loss_fn(model(x), y)           # forward: the mean loss of the batch
    loss.backward()                       # backward: d loss / d theta into p.grad
    optimizer.step()                      # theta <- update(theta, grad, state)
    scheduler.step()                      # per batch ("step") or once per epoch ("epoch")

:func:`fit` wraps them with what real training needs: epochs over ``DataLoader``\\ s, a ``tqdm`` bar
(a widget in JupyterLab), validation, metrics, a :class:`History`, divergence detection and
checkpoints that resume bit-identically.

**Checkpoints and resuming.** With ``checkpoint_path`` a checkpoint is written at the end of every
epoch, every ``checkpoint_every`` optimizer steps (also in the middle of an epoch), and when training
stops early (``max_steps`` or a callback); never after a divergence (the last good one stays). One
file holds the model, optimizer and scheduler ``state_dict``\\ s, the position (epoch, batch, step),
the history, which parameters were frozen, and the RNG states: torch CPU (and CUDA when used), NumPy's
global RNG, Python's ``random``, and the training loader's ``torch.Generator``\\ s. It is written
atomically (temporary file in the same folder, ``fsync``, ``os.replace``): a crash while saving leaves
the previous checkpoint intact. It is read with ``torch.load(weights_only=True)``, which never
unpickles arbitrary objects.

``fit(..., resume_from=path)`` continues exactly where the run stopped, bit for bit, provided that you
build the same model, optimizer (same groups, same order), scheduler, loss and loaders as the first
run (the restored states overwrite theirs). To resume in the middle of an epoch, the epoch's batch
order is replayed: the RNG states of the start of that epoch are restored, the already-trained
batches are drawn and skipped (no training on them), then the RNG states of the checkpoint are
restored. This works whether the loader shuffles with its own ``torch.Generator`` (as
``course_lib.data.loaders`` does; recommended) or with the global torch RNG. NumPy's ``Generator``
objects and other RNGs you own are not saved.
"""

from course_lib.training.checkpoint import (
    CHECKPOINT_FORMAT,
    atomic_save,
    load_checkpoint,
    save_checkpoint,
)
from course_lib.training.history import FitState, History
from course_lib.training.loop import fit
from course_lib.training.rng import loader_generators, rng_state, seed_everything, set_rng_state
from course_lib.training.step import (
    RunningMeans,
    StepResult,
    accuracy,
    batch_size,
    correct,
    evaluate,
    model_device,
    resolve_device,
    to_device,
    to_float,
    train_step,
)

__all__ = [
    "CHECKPOINT_FORMAT",
    "FitState",
    "History",
    "RunningMeans",
    "StepResult",
    "accuracy",
    "atomic_save",
    "batch_size",
    "correct",
    "evaluate",
    "fit",
    "load_checkpoint",
    "loader_generators",
    "model_device",
    "resolve_device",
    "rng_state",
    "save_checkpoint",
    "seed_everything",
    "set_rng_state",
    "to_device",
    "to_float",
    "train_step",
]
