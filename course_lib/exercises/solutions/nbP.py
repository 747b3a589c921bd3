"""Answer key of notebook P (the pitfalls clinic): one reference fix per coding exercise.

Each function is what the learner writes in the notebook's exercise cell; ``tests/test_exercises_nbP.py``
runs it through its checker in :mod:`course_lib.exercises.nbP` (which prints "Correct"). Read them
after trying.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from course_lib.exercises.nbP import COSINE, LRS

__all__ = [
    "accumulate",
    "amp_clip_step",
    "amp_loop",
    "decay_groups",
    "keras_eps",
    "resume",
    "train_one_pass",
    "two_groups",
    "warmup_cosine",
    "warmup_then_plateau",
]


def train_one_pass(model, optimizer, scheduler, batches):
    """1: per batch, ``optimizer.step()`` first, then ``scheduler.step()``."""
    for x, y in batches:
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        scheduler.step()


def amp_loop(model, optimizer, scheduler, scaler, batches):
    """2: step the scheduler only when ``scaler.update()`` did not lower the scale."""
    for x, y in batches:
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.float16):
            loss = F.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        scale = scaler.get_scale()
        scaler.step(optimizer)
        scaler.update()
        if scaler.get_scale() >= scale:  # the step was taken
            scheduler.step()


def accumulate(model, optimizer, scheduler, micro_batches, k):
    """3: loss / k per micro-batch; one optimizer step and one scheduler step per k micro-batches."""
    optimizer.zero_grad()
    for i, (x, y) in enumerate(micro_batches):
        (F.cross_entropy(model(x), y) / k).backward()
        if (i + 1) % k == 0:
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()


def warmup_then_plateau(train_step, warmup, plateau, val_losses, steps_per_epoch=2, warmup_steps=4):
    """4: the warm-up scheduler during warm-up only, the plateau scheduler after it only."""
    t = 0
    for loss in val_losses:
        for _ in range(steps_per_epoch):
            train_step()
            t += 1
            if t < warmup_steps:
                warmup.step()
        if t >= warmup_steps:
            plateau.step(loss)


def warmup_cosine(t):
    """5: ``SequentialLR``'s factor: linear from 0.1 over W steps, then a cosine from its step 0."""
    w, total, start = COSINE["warmup"], COSINE["total"], COSINE["start"]
    if t < w:
        return start + (1 - start) * t / w
    return 0.5 * (1 + math.cos(math.pi * (t - w) / (total - w)))


def resume(checkpoint, model, optimizer, scheduler):
    """6: load all three states (the scheduler's after the optimizer's)."""
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])


def two_groups(model, total_steps):
    """7: both groups in the constructor, then the scheduler."""
    optimizer = torch.optim.SGD(
        [
            {"params": model.features.parameters(), "lr": LRS["features"]},
            {"params": model.classifier.parameters(), "lr": LRS["classifier"]},
        ]
    )
    return optimizer, torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)


def decay_groups(model, weight_decay):
    """8: every tensor with more than one dimension decays; biases and norm parameters (1-D) do not."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def keras_eps(epsilon, beta2, t):
    """9: Keras's epsilon sits on sqrt(v_t) before the correction: torch's eps is it over sqrt(1 - beta2^t)."""
    return epsilon / math.sqrt(1 - beta2**t)


def amp_clip_step(model, optimizer, scaler, batch, max_norm):
    """10: unscale, then clip, then step through the scaler."""
    x, y = batch
    optimizer.zero_grad()
    with torch.autocast("cpu", dtype=torch.float16):
        loss = F.cross_entropy(model(x), y)
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    scaler.step(optimizer)
    scaler.update()
