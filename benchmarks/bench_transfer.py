"""Is transfer learning worth it here? Scratch vs six ways of reusing the shipped CNN backbone.

Source task: :func:`course_lib.data.transfer_source` (standard MNIST-1D, 32,000 training examples), on
which ``python -m course_lib.pretrain`` trained ``course_lib/assets/backbone_cnn.pt``. Target task:
:func:`course_lib.data.transfer_target` (digits stretched in time by about 1.4x, another seed) with
only ``--n-train`` labelled examples (default 200, balanced) and its 1000 test examples.

The strategies (scratch, feature_extraction, uniform, uniform_low, differential, gradual,
gradual_slow) live in :mod:`course_lib.transfer`, which documents them; notebook 07 runs the same
functions with fewer seeds. Every strategy trains the same CNN with a fresh head initialised by the
seed, for the same number of epochs, with AdamW (no weight decay), one-cycle per batch (each group's
own peak rate), batch 32 and circular-shift augmentation; ``lr`` is the head rate and ``lr / 10`` the
backbone's low rate.

Run: ``python benchmarks/bench_transfer.py`` (5 seeds) or ``--quick`` (3 seeds, fewer epochs).
Prints test accuracy mean ± std over seeds, the range, the gain over scratch, and CPU s per seed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from course_lib.data import TRANSFER_TARGET_ARGS, transfer_target
from course_lib.models import backbone_info
from course_lib.transfer import STRATEGIES, run_strategy

METHODS = STRATEGIES


def run_method(method: str, seed: int, *, n_train: int = 200, epochs: int = 30) -> dict:
    """One strategy, one seed (:func:`course_lib.transfer.run_strategy`): ``test_acc``, ``cpu_s``."""
    m = run_strategy(method, seed, n_train=n_train, epochs=epochs)
    return {"test_acc": m["test_acc"], "cpu_s": m["cpu_s"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 seeds and 10 epochs")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (default 5)")
    parser.add_argument("--n-train", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=None, help="fine-tuning epochs (default 30)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--methods", default=",".join(METHODS))
    args = parser.parse_args(argv)
    seeds = args.seeds or (3 if args.quick else 5)
    epochs = args.epochs or (10 if args.quick else 30)
    torch.set_num_threads(args.threads)
    methods = args.methods.split(",")
    info = backbone_info()
    print(
        f"source: standard MNIST-1D x{info['source_train_size']} train, backbone source test acc "
        f"{100 * info['source_test_acc']:.1f}%\n"
        f"target: mnist1d(**{TRANSFER_TARGET_ARGS}), n_train={args.n_train} (balanced), "
        f"1000 test; {epochs} epochs, batch 32, AdamW one-cycle, lr 1e-2 (low 1e-3), "
        f"{seeds} seeds, {args.threads} thread(s)\n"
    )
    transfer_target(args.n_train)  # generate (and cache) the target data outside the timings
    results = {}
    wall0 = time.perf_counter()
    for method in methods:
        runs = [run_method(method, s, n_train=args.n_train, epochs=epochs) for s in range(seeds)]
        results[method] = runs
    wall = time.perf_counter() - wall0
    base = statistics.mean(r["test_acc"] for r in results.get("scratch", [{"test_acc": 0.0}]))
    print(f"{'method':<20}{'test acc %':>16}{'min-max':>14}{'vs scratch':>12}{'CPU s/seed':>12}")
    for method, runs in results.items():
        accs = [100 * r["test_acc"] for r in runs]
        sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
        mean = statistics.mean(accs)
        cpu = statistics.mean(r["cpu_s"] for r in runs)
        gain = f"{mean - 100 * base:+.1f}" if "scratch" in results else ""
        print(
            f"{method:<20}{mean:>9.1f} ± {sd:<4.1f}{min(accs):>8.1f}-{max(accs):<5.1f}"
            f"{gain:>12}{cpu:>12.2f}"
        )
    print(f"\ntotal wall time {wall:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
