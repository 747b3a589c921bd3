"""Notebook P's checkers accept the answer key and give each typical wrong fix its own hint."""

import math

import pytest
import torch
import torch.nn.functional as F
from _exercise_tests import answer_tests, rejects_with_hint

from course_lib.exercises import nbP
from course_lib.exercises.solutions import nbP as key

CODE_SOLUTIONS = {
    nbP.check_step_order: key.train_one_pass,
    nbP.check_amp_scheduler: key.amp_loop,
    nbP.check_accumulation_schedule: key.accumulate,
    nbP.check_warmup_plateau: key.warmup_then_plateau,
    nbP.check_warmup_cosine: key.warmup_cosine,
    nbP.check_resume: key.resume,
    nbP.check_group_schedule: key.two_groups,
    nbP.check_no_decay_groups: key.decay_groups,
    nbP.check_keras_eps: key.keras_eps,
    nbP.check_amp_clip: key.amp_clip_step,
}
SOLUTIONS = {**CODE_SOLUTIONS, nbP.check_clipped_norm: 1 / 65536}  # c / S

(
    test_check_accepts_the_reference_solution,
    test_check_asks_for_an_answer_when_given_none_and_never_raises_on_junk,
) = answer_tests(SOLUTIONS, junk=("abc", True, float("nan"), object(), [1, 2]))


def unfinished(*args):
    raise NotImplementedError


def crashes(*args):
    return {}["missing"]


@pytest.mark.parametrize("check", list(CODE_SOLUTIONS), ids=lambda f: f.__name__)
def test_an_unfinished_or_crashing_fix_gets_how_to_proceed_and_never_raises(check, capsys):
    rejects_with_hint(check, unfinished, "Write the body of your function", capsys)
    rejects_with_hint(check, crashes, "Your function raised KeyError", capsys)


# --- 1 ---


def scheduler_first(model, optimizer, scheduler, batches):
    for x, y in batches:
        scheduler.step()
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()


def never_scheduled(model, optimizer, scheduler, batches):
    for x, y in batches:
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()


def scheduled_twice(model, optimizer, scheduler, batches):
    for x, y in batches:
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        scheduler.step()
        scheduler.step()


def one_step_only(model, optimizer, scheduler, batches):
    for x, y in batches:
        F.cross_entropy(model(x), y).backward()
    optimizer.step()
    scheduler.step()


# --- 2 ---


def amp_unprotected(model, optimizer, scheduler, scaler, batches):
    for x, y in batches:
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.float16):
            loss = F.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()


def amp_without_update(model, optimizer, scheduler, scaler, batches):
    for x, y in batches:
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.float16):
            loss = F.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scheduler.step()


def amp_plain_step(model, optimizer, scheduler, scaler, batches):
    for x, y in batches:
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.float16):
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        scheduler.step()


# --- 3 ---


def accumulate_scheduler_per_micro_batch(model, optimizer, scheduler, micro_batches, k):
    for i, (x, y) in enumerate(micro_batches):
        (F.cross_entropy(model(x), y) / k).backward()
        if (i + 1) % k == 0:
            optimizer.step()
            optimizer.zero_grad()
        scheduler.step()


def accumulate_summed(model, optimizer, scheduler, micro_batches, k):
    for i, (x, y) in enumerate(micro_batches):
        F.cross_entropy(model(x), y).backward()
        if (i + 1) % k == 0:
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()


def accumulate_step_every_micro_batch(model, optimizer, scheduler, micro_batches, k):
    for x, y in micro_batches:
        optimizer.zero_grad()
        (F.cross_entropy(model(x), y) / k).backward()
        optimizer.step()
        scheduler.step()


# --- 4 ---


def plateau_warmup_all_along(train_step, warmup, plateau, val_losses):
    for loss in val_losses:
        for _ in range(2):
            train_step()
            warmup.step()
        plateau.step(loss)


def plateau_from_the_start(train_step, warmup, plateau, val_losses):
    t = 0
    for loss in val_losses:
        for _ in range(2):
            train_step()
            t += 1
            if t < 4:
                warmup.step()
        plateau.step(loss)


def plateau_never(train_step, warmup, plateau, val_losses):
    for _ in val_losses:
        for _ in range(2):
            train_step()


# --- 5 ---

W, T = nbP.COSINE["warmup"], nbP.COSINE["total"]


def cosine_one_step_early(t):
    return key.warmup_cosine(t + 1)


def cosine_one_step_late(t):
    return key.warmup_cosine(max(t - 1, 0)) if t else 0.1


def cosine_from_zero(t):
    return 0.1 + 0.9 * t / W if t < W else 0.5 * (1 + math.cos(math.pi * t / T))


def warmup_from_zero(t):
    return t / W if t < W else key.warmup_cosine(t)


# --- 6 ---


def resume_without_scheduler(checkpoint, model, optimizer, scheduler):
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])


def resume_without_optimizer(checkpoint, model, optimizer, scheduler):
    model.load_state_dict(checkpoint["model"])
    for group in optimizer.param_groups:
        group["lr"] = checkpoint["optimizer"]["param_groups"][0]["lr"]
    scheduler.load_state_dict(checkpoint["scheduler"])


def resume_without_model(checkpoint, model, optimizer, scheduler):
    optimizer.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])


def resume_with_last_epoch(checkpoint, model, optimizer, scheduler):
    model.load_state_dict(checkpoint["model"])
    return torch.optim.lr_scheduler.CosineAnnealingLR(
        torch.optim.SGD(model.parameters(), lr=0.1), T_max=8, last_epoch=3
    )


# --- 7 ---


def group_added_after_lambda(model, total_steps):
    opt = torch.optim.SGD(model.features.parameters(), lr=nbP.LRS["features"])
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda t: 0.5 * (1 + math.cos(math.pi * t / total_steps))
    )
    opt.add_param_group({"params": model.classifier.parameters(), "lr": nbP.LRS["classifier"]})
    return opt, sched


def step_decay(model, total_steps):
    opt = key.two_groups(model, total_steps)[0]
    return opt, torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)


def one_rate(model, total_steps):
    opt = torch.optim.SGD(model.parameters(), lr=nbP.LRS["features"])
    return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps)


def classifier_only(model, total_steps):
    opt = torch.optim.SGD(model.classifier.parameters(), lr=nbP.LRS["classifier"])
    return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps)


# --- 8 ---


def decay_everything(model, weight_decay):
    return [{"params": list(model.parameters()), "weight_decay": weight_decay}]


def decay_all_but_biases(model, weight_decay):
    named = list(model.named_parameters())
    return [
        {"params": [p for n, p in named if not n.endswith("bias")], "weight_decay": weight_decay},
        {"params": [p for n, p in named if n.endswith("bias")], "weight_decay": 0.0},
    ]


def decay_nothing(model, weight_decay):
    return [{"params": list(model.parameters()), "weight_decay": 0.0}]


def decay_missing_norm(model, weight_decay):
    return [
        {"params": [p for p in model.parameters() if p.ndim > 1], "weight_decay": weight_decay},
        {"params": [model[0].bias, model[3].bias], "weight_decay": 0.0},
    ]


# --- 9 ---


def eps_unchanged(epsilon, beta2, t):
    return epsilon


def eps_inverse(epsilon, beta2, t):
    return epsilon * math.sqrt(1 - beta2**t)


def eps_no_root(epsilon, beta2, t):
    return epsilon / (1 - beta2**t)


# --- 10 ---


def amp_step(model, optimizer, scaler, batch, clip_first, clip=True):
    x, y = batch
    optimizer.zero_grad()
    with torch.autocast("cpu", dtype=torch.float16):
        loss = F.cross_entropy(model(x), y)
    scaler.scale(loss).backward()
    if clip_first and clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), nbP.CLIP)
    scaler.unscale_(optimizer)
    if not clip_first and clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), nbP.CLIP)
    scaler.step(optimizer)
    scaler.update()


def clip_before_unscale(model, optimizer, scaler, batch, max_norm):
    amp_step(model, optimizer, scaler, batch, clip_first=True)


def no_clipping(model, optimizer, scaler, batch, max_norm):
    amp_step(model, optimizer, scaler, batch, clip_first=False, clip=False)


def unscale_twice(model, optimizer, scaler, batch, max_norm):
    x, y = batch
    with torch.autocast("cpu", dtype=torch.float16):
        loss = F.cross_entropy(model(x), y)
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    scaler.unscale_(optimizer)  # again, "to be sure"
    scaler.step(optimizer)
    scaler.update()


def no_step(model, optimizer, scaler, batch, max_norm):
    x, y = batch
    with torch.autocast("cpu", dtype=torch.float16):
        loss = F.cross_entropy(model(x), y)
    scaler.scale(loss).backward()


WRONG = [
    (nbP.check_step_order, scheduler_first, "scheduler.step() runs before optimizer.step()"),
    (nbP.check_step_order, never_scheduled, "The scheduler never stepped"),
    (nbP.check_step_order, scheduled_twice, "The scheduler stepped 10 times for 5 batches"),
    (nbP.check_step_order, one_step_only, "optimizer.step() ran 1 times for 5 batches"),
    (nbP.check_amp_scheduler, amp_unprotected, "The scheduler stepped after the skipped steps too"),
    (
        nbP.check_amp_scheduler,
        amp_without_update,
        "raised RuntimeError: step() has already been called since the last update()",
    ),
    (nbP.check_amp_scheduler, amp_plain_step, "The weights are not finite"),
    (nbP.check_accumulation_schedule, accumulate_scheduler_per_micro_batch, "ran 3 times too fast"),
    (nbP.check_accumulation_schedule, accumulate_summed, "The loss is not divided"),
    (
        nbP.check_accumulation_schedule,
        accumulate_step_every_micro_batch,
        "optimizer.step() ran 12 times",
    ),
    (nbP.check_warmup_plateau, plateau_warmup_all_along, "erases the plateau's reduction"),
    (nbP.check_warmup_plateau, plateau_from_the_start, "counted the warm-up epochs as bad epochs"),
    (nbP.check_warmup_plateau, plateau_never, "then plateau.step(loss) at the end of each epoch"),
    (nbP.check_warmup_cosine, cosine_one_step_early, "One step early"),
    (nbP.check_warmup_cosine, cosine_one_step_late, "One step late"),
    (nbP.check_warmup_cosine, cosine_from_zero, "The cosine counts from the milestone: use t - 3"),
    (nbP.check_warmup_cosine, warmup_from_zero, "LinearLR starts at start_factor = 0.1"),
    (nbP.check_resume, resume_without_scheduler, "The scheduler's state was not restored"),
    (nbP.check_resume, resume_without_optimizer, "the optimizer's state (the momentum buffers)"),
    (nbP.check_resume, resume_without_model, "model.load_state_dict(checkpoint['model'])"),
    (nbP.check_resume, resume_with_last_epoch, "Your function raised KeyError"),
    (nbP.check_group_schedule, step_decay, "then one CosineAnnealingLR(T_max=total_steps)"),
    (
        nbP.check_group_schedule,
        group_added_after_lambda,
        "A group added after the scheduler was built",
    ),
    (nbP.check_group_schedule, one_rate, "Both groups have the same rate"),
    (
        nbP.check_group_schedule,
        classifier_only,
        "Every parameter of the model must be in exactly one group",
    ),
    (nbP.check_no_decay_groups, decay_everything, "0.bias gets weight_decay 0.01, expected 0"),
    (nbP.check_no_decay_groups, decay_all_but_biases, "A norm layer's gain and shift"),
    (nbP.check_no_decay_groups, decay_nothing, "Weight matrices are what decay is for"),
    (nbP.check_no_decay_groups, decay_missing_norm, "missing ['1.weight', '1.bias']"),
    (nbP.check_keras_eps, eps_unchanged, "The same epsilon is not the same step"),
    (nbP.check_keras_eps, eps_inverse, "The inverse"),
    (nbP.check_keras_eps, eps_no_root, "under the square root"),
    (nbP.check_amp_clip, clip_before_unscale, "You clipped S g, the scaled gradient"),
    (nbP.check_amp_clip, no_clipping, "The step was not clipped"),
    (nbP.check_amp_clip, unscale_twice, "raised RuntimeError: unscale_() has already been called"),
    (nbP.check_amp_clip, no_step, "The weights did not move"),
    (nbP.check_clipped_norm, 1.0, "1 is what clipping after unscale_ gives"),
    (nbP.check_clipped_norm, 5, "Clipping does act here"),
    (nbP.check_clipped_norm, 3, "Not quite (3). Clip S g to norm c, then divide by S."),
]


@pytest.mark.parametrize(
    ("check", "wrong", "hint"), WRONG, ids=[getattr(w, "__name__", repr(w)) for _, w, _ in WRONG]
)
def test_a_typical_wrong_fix_fails_with_its_own_hint(check, wrong, hint, capsys):
    rejects_with_hint(check, wrong, hint, capsys)


def test_the_first_mismatch_is_named_with_both_values(capsys):
    """The report names the update and both rates, not only the verdict."""
    rejects_with_hint(
        nbP.check_step_order, scheduler_first, "update 0 used lr 0.05, expected 0.1", capsys
    )
    rejects_with_hint(
        nbP.check_warmup_cosine, cosine_from_zero, "At step 3 the factor is 0.793893", capsys
    )
