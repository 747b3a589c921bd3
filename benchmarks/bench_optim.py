"""Time each course_lib optimizer against its torch.optim twin; print the median ratio ours/torch.

Run: ``python benchmarks/bench_optim.py [--quick]`` (one thread; about a minute, --quick a few seconds).

For each optimizer (typical settings) and each workload, the steps are timed interleaved in one
process: ours, torch default, torch foreach=False, torch foreach=True, then the next round in a
rotated order, so that load from other processes hits every variant alike. Times are this
process's CPU time (``time.process_time``, one thread), which other processes on a shared machine
do not inflate. Each ratio is taken within one round; the table shows the median over rounds.
Workloads (float32, like a model's weights):

- small: 200 tensors, 100 of 64x64 and 100 of 64 (about 0.42 M parameters): per-tensor overhead;
- large: 4 tensors of 512x1024 (about 2.1 M parameters): arithmetic and memory traffic.

On CPU torch's default is its single-tensor loop (torch 2.13 picks foreach only on accelerators),
so "default" and "foreach=False" time the same code; "foreach=True" is torch's multi-tensor path.
"ours" is our default, the loop; ours with ``foreach=True`` (``course_lib/optim/foreach.py``) is
timed against torch's in ``benchmarks/bench_step_cost.py``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

import course_lib.optim as ours

SETTINGS = {
    "SGD": {"lr": 1e-3, "momentum": 0.9},
    "Adagrad": {"lr": 1e-2},
    "RMSprop": {"lr": 1e-3},
    "Adam": {"lr": 1e-3},
    "AdamW": {"lr": 1e-3},
    "NAdam": {"lr": 1e-3},
}
WORKLOADS = {
    "small": [(64, 64)] * 100 + [(64,)] * 100,
    "large": [(512, 1024)] * 4,
}
VARIANTS = ["ours", "torch default", "torch foreach=False", "torch foreach=True"]


def make_optimizer(name: str, variant: str, shapes) -> torch.optim.Optimizer:
    """An optimizer of the given variant on fresh tensors with fixed random gradients."""
    gen = torch.Generator().manual_seed(0)
    params = []
    for shape in shapes:
        p = torch.randn(shape, generator=gen).requires_grad_()
        p.grad = torch.randn(shape, generator=gen) * 1e-2
        params.append(p)
    if variant == "ours":
        return getattr(ours, name)(params, **SETTINGS[name])
    extra = {"torch default": {}, "torch foreach=False": {"foreach": False}}
    kwargs = extra.get(variant, {"foreach": True})
    return getattr(torch.optim, name)(params, **SETTINGS[name], **kwargs)


def time_steps(opt: torch.optim.Optimizer, steps: int) -> float:
    """CPU seconds per step of this process."""
    start = time.process_time()
    for _ in range(steps):
        opt.step()
    return (time.process_time() - start) / steps


def bench(name: str, shapes, rounds: int, steps: int) -> dict[str, float]:
    """Median over rounds of time(ours) / time(variant), and ours' median time per step."""
    optimizers = {v: make_optimizer(name, v, shapes) for v in VARIANTS}
    for opt in optimizers.values():  # create the state and warm up
        time_steps(opt, 2)
    ratios: dict[str, list[float]] = {v: [] for v in VARIANTS[1:]}
    own_times = []
    for i in range(rounds):
        order = VARIANTS[i % len(VARIANTS) :] + VARIANTS[: i % len(VARIANTS)]
        times = {v: time_steps(optimizers[v], steps) for v in order}
        own_times.append(times["ours"])
        for v in VARIANTS[1:]:
            ratios[v].append(times["ours"] / times[v])
    result = {v: statistics.median(r) for v, r in ratios.items()}
    result["ms"] = statistics.median(own_times) * 1e3
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and steps (a smoke run)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rounds, steps = (4, {"small": 2, "large": 1}) if args.quick else (31, {"small": 2, "large": 1})

    print(
        f"torch {torch.__version__}, 1 thread, {rounds} rounds, CPU time, median ratio ours/torch"
    )
    header = f"{'optimizer':<9} {'workload':<8} {'ours ms/step':>12}" + "".join(
        f" {v:>20}" for v in VARIANTS[1:]
    )
    print(header)
    print("-" * len(header))
    worst = 0.0
    for name in SETTINGS:
        for workload, shapes in WORKLOADS.items():
            r = bench(name, shapes, rounds, steps[workload])
            worst = max(worst, r["torch default"], r["torch foreach=False"])
            cells = "".join(f" {r[v]:>20.2f}" for v in VARIANTS[1:])
            print(f"{name:<9} {workload:<8} {r['ms']:>12.2f}{cells}", flush=True)
    print(f"worst ratio against torch's default / single-tensor path: {worst:.2f} (target <= 1.10)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
