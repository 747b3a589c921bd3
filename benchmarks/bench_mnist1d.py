"""MNIST-1D: our recipes for logistic regression, the MLP and the CNN beside the paper's table.

Greydanus & Kobak, "Scaling Down Deep Learning" (2020), test accuracy on the standard split:
logistic regression 32%, MLP 68%, CNN 94%. Each model here is trained with its recipe in
:data:`course_lib.models.RECIPES` (AdamW, one-cycle per batch, batch 100, 60 epochs; the CNN is wider
than the paper's and sees circular-shift augmentation) over several seeds on ``--threads`` CPU threads
(default 2). Printed: test accuracy mean ± sample std (``statistics.stdev``) over seeds, and per
seed the CPU seconds (``time.process_time``, all threads together) and wall seconds of training.

``--ablation`` adds rows that show where the CNN's gain comes from (paper-size CNN, no augmentation)
and the MLP with the CNN's augmentation. ``--quick`` runs 3 seeds of 10 epochs (not the table's numbers).

Run: ``python benchmarks/bench_mnist1d.py`` (3 seeds) or ``--seeds 5``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from course_lib.data import mnist1d
from course_lib.pretrain import train_recipe

PAPER = {"logreg": 32.0, "mlp": 68.0, "cnn": 94.0}

#: (row label, recipe name, overrides of the recipe)
ROWS = [
    ("logreg", "logreg", {}),
    ("mlp", "mlp", {}),
    ("cnn", "cnn", {}),
]
ABLATION_ROWS = [
    ("cnn, no shift augmentation", "cnn", {"max_shift": 0}),
    ("cnn, paper size (25 ch)", "cnn", {"model_kwargs": {"channels": (25, 25, 25)}}),
    (
        "cnn, paper size, no shift",
        "cnn",
        {"model_kwargs": {"channels": (25, 25, 25)}, "max_shift": 0},
    ),
    ("mlp + shift augmentation", "mlp", {"max_shift": 10}),
]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 epochs per model")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--ablation", action="store_true", help="add the ablation rows")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    split = mnist1d()
    rows = ROWS + (ABLATION_ROWS if args.ablation else [])
    print(
        f"MNIST-1D standard split {split}; {args.seeds} seeds; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads{'; QUICK (10 epochs)' if args.quick else ''}\n"
    )
    header = f"{'model':<30}{'paper %':>8}{'ours % ± std':>16}{'CPU s/seed':>12}{'wall s/seed':>13}"
    print(header)
    print("-" * len(header))
    for label, name, overrides in rows:
        if args.quick:
            overrides = {**overrides, "epochs": 10}
        accs, cpus, walls = [], [], []
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            _, stats = train_recipe(name, split, seed=seed, **overrides)
            accs.append(100 * stats["test_acc"])
            cpus.append(stats["cpu_s"])
            walls.append(time.perf_counter() - t0)
        sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
        paper = f"{PAPER[label]:.0f}" if label in PAPER else ""
        print(
            f"{label:<30}{paper:>8}{statistics.mean(accs):>9.1f} ± {sd:<4.1f}"
            f"{statistics.mean(cpus):>12.1f}{statistics.mean(walls):>13.1f}",
            flush=True,
        )
        print(
            f"{'':<30}{'':>8}  per seed: {', '.join(f'{a:.1f}' for a in accs)}"
            f"; CPU max {max(cpus):.1f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
