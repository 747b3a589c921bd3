"""Reference solutions of notebook A2's exercises, checked against Lightning and Optuna themselves."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _exercise_tests import rejects_with_hint

from course_lib import integrations as ci
from course_lib.exercises import nbA2

pl = pytest.importorskip("lightning.pytorch")
optuna = pytest.importorskip("optuna")


def test_checks_ask_for_an_answer_when_none(capsys):
    for check in (
        nbA2.check_scheduler_steps,
        nbA2.check_log_uniform_fraction,
        nbA2.check_no_files_arguments,
    ):
        assert check(None) is False
        assert "Fill in your answer" in capsys.readouterr().out
    assert nbA2.check_significant(None, [0.5, 0.6], [0.5, 0.6]) is False


def test_scheduler_steps_reference_matches_a_real_trainer(tmp_path):
    import logging
    import warnings

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    assert nbA2.check_scheduler_steps(28)
    x, y = torch.randn(250, 3), torch.randint(0, 2, (250,))
    module = ci.CourseLitModule(
        torch.nn.Linear(3, 2),
        optimizer_kwargs={"lr": 0.1},
        make_scheduler=ci.make_scheduler("cosine"),
    )
    rec = ci.LRRecorder()
    trainer = ci.quiet_trainer(
        tmp_path, 4, callbacks=[rec], accumulate_grad_batches=4, limit_val_batches=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(module, ci.tensor_loader(x, y, batch_size=10, seed=0))  # 25 batches
    assert trainer.estimated_stepping_batches == len(rec.values) == 28
    assert nbA2.scheduler_steps(25, 4, 4) == 28


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (100, "that counts batches"),
        (24, "Close: the last, incomplete group of batches of each epoch also ends in a step"),
        (25, "Not quite (25). Count optimizer steps per epoch"),
        (27.0, "Answer with an integer, got 27.0"),
        ("28", "Answer with an integer, got '28'"),
        (True, "Answer with an integer, got True"),
    ],
)
def test_scheduler_steps_rejects_typical_mistakes(wrong, hint, capsys):
    rejects_with_hint(nbA2.check_scheduler_steps, wrong, hint, capsys)


def test_log_uniform_fraction_reference_matches_optuna_sampling():
    assert nbA2.check_log_uniform_fraction(2 / 3)
    assert nbA2.check_log_uniform_fraction(0.667)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(lambda t: t.suggest_float("lr", 1e-4, 1e-1, log=True), n_trials=3000)
    lrs = np.array([t.params["lr"] for t in study.trials])
    assert abs((lrs < 1e-2).mean() - 2 / 3) < 0.03


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (0.099, "that is a uniform draw on a linear scale"),
        (0.5, "Not quite (0.5). Count decades"),
        (1 / 3, "Not quite (0.333333). Count decades"),
        ("2/3", "Answer with a number between 0 and 1, got '2/3'"),
        (None, "Fill in your answer"),
    ],
)
def test_log_uniform_fraction_rejects_typical_mistakes(wrong, hint, capsys):
    rejects_with_hint(nbA2.check_log_uniform_fraction, wrong, hint, capsys)


def test_no_files_arguments_reference_writes_nothing(tmp_path, monkeypatch):
    import logging

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    assert nbA2.check_no_files_arguments({"logger", "enable_checkpointing"})
    assert nbA2.check_no_files_arguments(["enable_checkpointing", "logger"])
    monkeypatch.chdir(tmp_path)  # Lightning's default root is the working directory
    x, y = torch.randn(40, 3), torch.randint(0, 2, (40,))
    module = ci.CourseLitModule(torch.nn.Linear(3, 2), optimizer_kwargs={"lr": 0.1})
    trainer = pl.Trainer(
        max_epochs=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, ci.tensor_loader(x, y, seed=0))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        ({"logger", "enable_checkpointing", "default_root_dir"}, "default_root_dir only moves"),
        ({"logger"}, "Still writing: ['enable_checkpointing']; not needed: none"),
        (
            {"default_root_dir"},
            "Still writing: ['enable_checkpointing', 'logger']; not needed: ['default_root_dir']",
        ),
        ("logger", "Answer with a set of argument names"),
        (None, "Fill in your answer"),
    ],
)
def test_no_files_arguments_rejects_typical_mistakes(wrong, hint, capsys):
    rejects_with_hint(nbA2.check_no_files_arguments, wrong, hint, capsys)


def test_significant_follows_the_paired_interval(capsys):
    from course_lib import compare

    # the two runs differ by about 0.01 on every seed: the shared seed-to-seed spread (0.02)
    # cancels in the paired differences, which an unpaired comparison of the means would miss
    shift_a, shift_b = [0.53, 0.55, 0.51, 0.56], [0.52, 0.541, 0.499, 0.551]
    assert compare.paired_difference(shift_a, shift_b).excludes_zero()
    assert nbA2.check_significant(True, shift_a, shift_b)
    assert "which excludes zero: tuned better than default" in capsys.readouterr().out
    assert not nbA2.check_significant(False, shift_a, shift_b)
    assert "Take the differences tuned - default seed by seed" in capsys.readouterr().out
    noisy_a, noisy_b = [0.53, 0.55, 0.51], [0.54, 0.545, 0.52]
    assert nbA2.check_significant(False, noisy_a, noisy_b)
    assert "includes zero: tuned and default are not distinguishable with 3 seeds" in (
        capsys.readouterr().out
    )
    assert not nbA2.check_significant(True, noisy_a, noisy_b)
    assert "Does it contain zero?" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "tuned", "default", "hint"),
    [
        ("yes", [0.7, 0.71], [0.5, 0.51], "Answer with True or False, got 'yes'"),
        (True, [0.5], [0.4], "tuned needs at least two seeds"),
        (True, [0.5, 0.6, 0.7], [0.4, 0.5], "one result per seed each (paired), got 3 and 2"),
    ],
)
def test_significant_rejects_bad_input(answer, tuned, default, hint, capsys):
    assert nbA2.check_significant(answer, tuned, default) is False
    assert hint in capsys.readouterr().out


def _complete(study):
    return len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))


def _stop_after(n):
    """The reference solution of exercise 5."""

    def callback(study, trial):
        if _complete(study) >= n:
            study.stop()

    return callback


def _never_stops(n):
    return lambda study, trial: None


def _stops_at_once(n):
    return lambda study, trial: study.stop()


def _not_written(n):
    def callback(study, trial):
        raise NotImplementedError

    return callback


def _crashes(n):
    return lambda study, trial: study.no_such_method()


def test_stop_after_reference_stops_a_real_study_and_it_resumes(capsys):
    from course_lib.integrations.optuna_processes import ToyObjective

    assert nbA2.check_stop_after(_stop_after) is True
    assert nbA2.check_stop_after(_stop_after, n=4) is True
    assert "Correct: the study stopped after 4 complete trials" in capsys.readouterr().out
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(ToyObjective(), n_trials=10, callbacks=[_stop_after(3)])
    assert _complete(study) == 3


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (_never_stops, "Not yet: all 6 trials ran"),
        (_stops_at_once, "stopped after 1 complete trials, expected 2"),
        (_not_written, "replace `raise NotImplementedError`"),
        (_crashes, "Your callback raised AttributeError"),
        ("stop", "Answer with a function stop_after(n)"),
        (None, "Fill in your answer"),
    ],
)
def test_stop_after_rejects_typical_mistakes(wrong, hint, capsys):
    rejects_with_hint(nbA2.check_stop_after, wrong, hint, capsys)


def test_stop_after_check_needs_fewer_stops_than_grid_points():
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, 5\], got 6"):
        nbA2.check_stop_after(_stop_after, n=6)
