"""The course's training loop: ``fit`` with a progress bar, a history, schedulers, divergence, checkpoints.

A small package; everything public is importable from ``course_lib.training``:

- :mod:`~course_lib.training.step`: :func:`train_step` (one optimizer step), :func:`accumulate_step`
  (one step over a window of micro-batches, with clipping and mixed precision) and :func:`evaluate`
  (mean loss and metrics in eval mode), the pieces every loop of the course is built on;
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

**Training in practice** (``fit``'s options; all off by default, and then every number is the same
as without them):

- ``accumulation_steps=k``: :math:`k` loader batches (micro-batches) per optimizer step. Micro-batch
  :math:`b` (:math:`n_b` examples, :math:`N = \\sum_b n_b` in the window) contributes
  :math:`\\frac{n_b}{N} L_b` to the backward, so the step's gradient is that of the window's mean loss,
  the gradient of one batch :math:`k` times larger, even when the last window of an epoch is short
  or the micro-batches are uneven (a plain :math:`L_b / k` is right only for equal :math:`n_b`).
  Steps, ``max_steps``, ``checkpoint_every``, the history and a per-step scheduler count optimizer
  steps, not batches: with a schedule in steps, :math:`\\gamma_t` moves once per window.
- ``max_grad_norm=c``: :math:`g \\leftarrow g \\min(1, c / \\lVert g \\rVert_2)` over all the
  parameters (``torch.nn.utils.clip_grad_norm_``); :math:`\\lVert g \\rVert_2` before clipping goes to
  ``history.grad_norm``. ``clip_grad_value=c`` clips every entry into :math:`[-c, c]` (after the norm).
- ``precision="bf16"``: forward and loss under ``torch.autocast(dtype=torch.bfloat16)`` (the weights,
  gradients and optimizer state stay float32). ``precision="fp16"``: ``torch.float16`` with a
  ``torch.amp.GradScaler``: the loss is multiplied by a scale :math:`S` before the backward so that
  small gradients do not underflow in float16, ``scaler.unscale_`` divides the gradients by
  :math:`S` before clipping (a threshold on :math:`S g` would be :math:`S` times too strict), and
  ``scaler.step`` skips ``optimizer.step()`` when a gradient is inf/nan (then :math:`S` halves). A
  skipped step is counted (its loss is in ``history.step_loss``, its index in
  ``history.skipped_steps``) but the scheduler is not stepped for it: the weights did not move, and
  stepping it would run the schedule ahead (torch warns "Detected call of ``lr_scheduler.step()``
  before ``optimizer.step()``").
- ``ema=AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(β))``: after every optimizer step
  that was not skipped, :math:`\\bar\\theta \\leftarrow \\beta \\bar\\theta + (1 - \\beta) \\theta`; with a
  validation loader the epoch record gets ``val_ema_loss`` and ``val_ema_<metric>``.

**Checkpoints and resuming.** With ``checkpoint_path`` a checkpoint is written at the end of every
epoch, every ``checkpoint_every`` optimizer steps (also in the middle of an epoch), and when training
stops early (``max_steps`` or a callback); never after a divergence (the last good one stays). One
file holds the model, optimizer and scheduler ``state_dict``\\ s (and the ``GradScaler``'s and the
EMA's when used), the position (epoch, batch, step; ``batch`` counts loader batches, ``step``
optimizer steps, and checkpoints fall at window boundaries with accumulation),
the history, which parameters were frozen, and the RNG states: torch CPU (and CUDA when used), NumPy's
global RNG, Python's ``random``, and the training loader's ``torch.Generator``\\ s. It is written
atomically (temporary file in the same folder, ``fsync``, ``os.replace``): a crash while saving leaves
the previous checkpoint intact. It is read with ``torch.load(weights_only=True)``, which never
unpickles arbitrary objects.

``fit(..., resume_from=path)`` continues exactly where the run stopped, bit for bit, provided that you
build the same model, optimizer (same groups, same order), scheduler, loss and loaders as the first
run, with the same options (a scaler or an EMA on one side only, or another ``accumulation_steps``,
is a ``ValueError``; the restored states overwrite theirs). To resume in the middle of an epoch, the epoch's batch
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
    accumulate_step,
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
    "accumulate_step",
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
