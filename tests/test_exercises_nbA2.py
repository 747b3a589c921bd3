"""Reference solutions of notebook A2's exercises, checked against Lightning and Optuna themselves."""

from __future__ import annotations

import numpy as np
import pytest
import torch

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


@pytest.mark.parametrize("wrong", [100, 24, 25, 27.0, "28", True])
def test_scheduler_steps_rejects_typical_mistakes(wrong):
    assert nbA2.check_scheduler_steps(wrong) is False


def test_log_uniform_fraction_reference_matches_optuna_sampling():
    assert nbA2.check_log_uniform_fraction(2 / 3)
    assert nbA2.check_log_uniform_fraction(0.667)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(lambda t: t.suggest_float("lr", 1e-4, 1e-1, log=True), n_trials=3000)
    lrs = np.array([t.params["lr"] for t in study.trials])
    assert abs((lrs < 1e-2).mean() - 2 / 3) < 0.03


@pytest.mark.parametrize("wrong", [0.099, 0.5, 1 / 3, "2/3", None])
def test_log_uniform_fraction_rejects_typical_mistakes(wrong):
    assert nbA2.check_log_uniform_fraction(wrong) is False


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
    "wrong",
    [
        {"logger", "enable_checkpointing", "default_root_dir"},
        {"logger"},
        {"default_root_dir"},
        "logger",
        None,
    ],
)
def test_no_files_arguments_rejects_typical_mistakes(wrong):
    assert nbA2.check_no_files_arguments(wrong) is False


def test_significant_follows_two_standard_errors():
    close_a, close_b = [0.53, 0.55, 0.51], [0.54, 0.545, 0.54]
    far_a, far_b = [0.70, 0.71, 0.69], [0.50, 0.51, 0.49]
    assert nbA2.check_significant(False, close_a, close_b)
    assert not nbA2.check_significant(True, close_a, close_b)
    assert nbA2.check_significant(True, far_a, far_b)
    assert not nbA2.check_significant(False, far_a, far_b)
    assert not nbA2.check_significant("yes", far_a, far_b)
    assert not nbA2.check_significant(True, [0.5], [0.4])  # one seed: no spread
